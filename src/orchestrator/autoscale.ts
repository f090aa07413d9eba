import type { ServiceSpec } from "../model/service-spec.js";

/** Where a replica's CPU figure came from. */
export type CpuSource = "replica" | "node";

/** One running replica as the autoscaler sees it. */
export interface ReplicaCpu {
  replicaId: string;
  /** CPU cores the replica's processes used (from its agent), when the agent reports per-replica figures. */
  cores: number | undefined;
  /** Its node's CPU utilisation in percent (heartbeat), when known. */
  nodePercent: number | undefined;
  /** Its node's CPU cores (registration), 0 when unknown. */
  nodeCores: number;
  /**
   * Its agent reports per-replica figures (Capstan's AgentStream): until the
   * replica's first figure arrives (a rate needs two samples) it has none,
   * rather than its node's, which would measure everything else on the node.
   */
  measured?: boolean;
}

/** What the autoscaler remembers about a service between passes (soft state: a restart only restarts the delays). */
export interface AutoscaleMemory {
  /** When the last scale happened (epoch ms). */
  lastScaleAt?: number;
  /** Since when the metric has been below scaleDownThreshold (epoch ms). */
  belowSince?: number;
}

/** What decideScale reads: one service, its replicas' CPU, the clock. */
export interface AutoscaleInput {
  spec: ServiceSpec;
  /** Running replicas of the current spec. */
  running: readonly ReplicaCpu[];
  /** Replicas still starting: no scaling up on top of them (their load is not measured yet). */
  starting: number;
  now: number;
  memory: AutoscaleMemory;
  /** At least this long between two scales of one service (no flapping). */
  cooldownMs: number;
}

/** A change of the replica count, explained. */
export interface ScaleDecision {
  from: number;
  to: number;
  /** Mean CPU utilisation in percent (of the request, or of the node); undefined for a bounds correction. */
  metric: number | undefined;
  threshold: number | undefined;
  source: CpuSource | undefined;
  /** E.g. "cpu 92.5% of requested (replica CPU) above scaleUpThreshold 80%: 2 → 3". */
  reason: string;
}

/** The outcome of one look: maybe a decision, the memory for the next look, and what the service waits for. */
export interface AutoscaleOutcome {
  decision: ScaleDecision | undefined;
  memory: AutoscaleMemory;
  /** Why nothing changed, for status (e.g. "cpu 40.0% … below scaleDownThreshold since 20s of 300s"); "" when nothing to say. */
  note: string;
}

/**
 * A replica's CPU utilisation in percent: its own cores over what it
 * requested (or over its node's cores when it requested none), else its
 * node's utilisation (Orion's agents report only that).
 */
export function utilisation(r: ReplicaCpu, requestedCores: number): { percent: number; source: CpuSource } | undefined {
  if (r.cores !== undefined) {
    const of = requestedCores > 0 ? requestedCores : r.nodeCores;
    if (of > 0) return { percent: (100 * r.cores) / of, source: "replica" };
  }
  return r.nodePercent === undefined || r.measured ? undefined : { percent: r.nodePercent, source: "node" };
}

/**
 * The autoscaler's decision for one service, pure over its input: keep the
 * count within [minReplicas, maxReplicas]; above scaleUpThreshold add one
 * replica; below scaleDownThreshold for scaleDownDelaySeconds remove one.
 * Bounded in rate: never within cooldownMs of the last scale, never up while
 * replicas are still starting, and every removal waits a full delay again.
 */
export function decideScale(input: AutoscaleInput): AutoscaleOutcome {
  const a = input.spec.autoscaling;
  const from = input.spec.replicas;
  const memory = { ...input.memory };
  if (!a?.enabled) return { decision: undefined, memory: {}, note: "" };
  const min = Math.max(1, a.minReplicas);
  const max = Math.max(min, a.maxReplicas);
  const bounded = Math.min(max, Math.max(min, from));
  if (bounded !== from) {
    const reason = `replicas ${from} outside autoscaling bounds [${min}, ${max}]: ${from} → ${bounded}`;
    return { decision: { from, to: bounded, metric: undefined, threshold: undefined, source: undefined, reason }, memory: { lastScaleAt: input.now }, note: "" };
  }
  const samples = input.running.flatMap((r) => utilisation(r, input.spec.placement.resources.cpu || input.spec.resources.cpu) ?? []);
  if (samples.length === 0) return { decision: undefined, memory: { lastScaleAt: memory.lastScaleAt }, note: "autoscaling waits for CPU figures from running replicas" };
  const metric = samples.reduce((s, x) => s + x.percent, 0) / samples.length;
  // Replica figures where every sample has them; one node figure makes it a node-CPU decision.
  const source: CpuSource = samples.every((x) => x.source === "replica") ? "replica" : "node";
  const what = `cpu ${metric.toFixed(1)}% ${source === "replica" ? "of requested (replica CPU)" : "(node CPU: the agent reports no per-replica CPU)"}`;
  const cooling = memory.lastScaleAt !== undefined && input.now - memory.lastScaleAt < input.cooldownMs;
  if (metric > a.scaleUpThreshold) {
    memory.belowSince = undefined;
    if (from >= max) return { decision: undefined, memory, note: `${what} above scaleUpThreshold ${a.scaleUpThreshold}%, at maxReplicas ${max}` };
    if (input.starting > 0) return { decision: undefined, memory, note: `${what} above scaleUpThreshold ${a.scaleUpThreshold}%, waits for ${input.starting} starting replica(s)` };
    if (cooling) return { decision: undefined, memory, note: `${what} above scaleUpThreshold ${a.scaleUpThreshold}%, in cooldown` };
    const reason = `${what} above scaleUpThreshold ${a.scaleUpThreshold}%: ${from} → ${from + 1}`;
    return { decision: { from, to: from + 1, metric, threshold: a.scaleUpThreshold, source, reason }, memory: { lastScaleAt: input.now }, note: "" };
  }
  if (metric < a.scaleDownThreshold) {
    const since = memory.belowSince ?? input.now;
    memory.belowSince = since;
    const delayMs = Math.max(0, a.scaleDownDelaySeconds) * 1000;
    if (from <= min) return { decision: undefined, memory, note: "" };
    if (input.now - since < delayMs || cooling) {
      const waited = Math.round((input.now - since) / 1000);
      return { decision: undefined, memory, note: `${what} below scaleDownThreshold ${a.scaleDownThreshold}% for ${waited}s of ${a.scaleDownDelaySeconds}s` };
    }
    const reason = `${what} below scaleDownThreshold ${a.scaleDownThreshold}% for ${a.scaleDownDelaySeconds}s: ${from} → ${from - 1}`;
    // The next removal waits a full delay again.
    return { decision: { from, to: from - 1, metric, threshold: a.scaleDownThreshold, source, reason }, memory: { lastScaleAt: input.now, belowSince: input.now }, note: "" };
  }
  memory.belowSince = undefined;
  return { decision: undefined, memory, note: "" };
}
