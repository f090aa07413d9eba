/** How failed launches are retried. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * When a service whose launches keep failing may launch again: after its
 * n-th consecutive failure, baseMs × 2^(n-1) after the last one, at most
 * maxMs (like Kubernetes' CrashLoopBackOff). No failures: at once (undefined).
 */
export function launchRetryAt(failures: number, lastFailureAt: Date | undefined, policy: BackoffPolicy): Date | undefined {
  if (failures <= 0 || !lastFailureAt) return undefined;
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 1, 30));
  return new Date(lastFailureAt.getTime() + delay);
}
