import type { Job } from "../model/job.js";
import type { Replica, ReplicaStatus } from "../model/replica.js";
import { launchRetryAt, type BackoffPolicy } from "../orchestrator/launch-backoff.js";

/** A replica that ran this long before failing resets its service's launch backoff. */
const RESET_AFTER_MS = 10 * 60_000;

/** A service whose launch waits for its backoff: why, and until when. */
export interface HeldBack {
  serviceName: string;
  message: string;
  retryAt: Date;
}

/**
 * Consecutive failed launches per service, and the backoff they impose on
 * its next launches (launchRetryAt): the reconciler's memory of a service
 * whose replicas keep failing, such as a failing hooks.beforeStart.
 */
export class LaunchFailures {
  private readonly failures = new Map<string, { count: number; at: Date; error: string; specHash: string }>();

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly now: () => number,
  ) {}

  /**
   * Counts a failed launch toward the service's backoff. A replica that ran
   * for RESET_AFTER_MS before failing starts the count again (as Kubernetes'
   * CrashLoopBackOff resets); "running" alone does not, since a launch whose
   * hooks.beforeStart fails was in progress before it failed.
   */
  record(r: Replica, job: Job, status: ReplicaStatus): void {
    if (status !== "failed") return;
    const ranFor = (job.finishedAt?.getTime() ?? this.now()) - (job.startedAt?.getTime() ?? this.now());
    const previous = this.failures.get(r.serviceName);
    const f = ranFor >= RESET_AFTER_MS || previous?.specHash !== r.specHash ? undefined : previous;
    this.failures.set(r.serviceName, { count: (f?.count ?? 0) + 1, at: new Date(this.now()), error: job.error || `exit code ${job.exitCode}`, specHash: r.specHash });
  }

  /**
   * Splits launches into those that may go now and the services held back
   * until their backoff passes. `specHash` gives each service's current spec:
   * a new spec (e.g. a fixed hook) launches at once, the failures being the old one's.
   */
  hold<T extends { serviceName: string }>(launches: T[], now: number, specHash: (service: string) => string | undefined): { go: T[]; held: HeldBack[] } {
    const held: HeldBack[] = [];
    const go = launches.filter((l) => {
      const f = this.failures.get(l.serviceName);
      if (f && f.specHash !== specHash(l.serviceName)) {
        this.failures.delete(l.serviceName);
        return true;
      }
      const retryAt = f && launchRetryAt(f.count, f.at, this.policy);
      if (!f || !retryAt || retryAt.getTime() <= now) return true;
      held.push({ serviceName: l.serviceName, retryAt, message: `launch failed ${f.count} time${f.count === 1 ? "" : "s"} (${f.error}); retrying at ${retryAt.toISOString()}` });
      return false;
    });
    return { go, held };
  }
}
