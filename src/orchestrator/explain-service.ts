import { ACTIVE, type Replica } from "../model/replica.js";
import type { NodeVerdict } from "./explain.js";
import { Placer } from "./placer.js";
import { planService, type DesiredService } from "./reconcile.js";
import type { ClusterSnapshot } from "./snapshot.js";

/** A service's verdict on one node: where its replicas are and what a change would do there. */
export interface ServiceNodeVerdict extends NodeVerdict {
  /** The service's active replicas on the node now. */
  running: number;
  /** Of those, the ones the dry run would stop (replaced or scaled down). */
  stopping: number;
}

/** What explaining an existing service (or a change to it) answers. */
export interface ServiceExplanation {
  verdicts: ServiceNodeVerdict[];
  /** New replicas only, one node id each. */
  placements: string[];
  stoppingReplicaIds: string[];
  summary: string;
}

/** What explainService reads. */
export interface ServiceExplainInput {
  /** The desired service: as stored, or with the change to try (replica count, spec). */
  desired: DesiredService;
  /** The service's replicas as observed. */
  replicas: readonly Replica[];
  snapshot: ClusterSnapshot;
  /** round_robin's position, as the reconciler holds it. */
  cursor?: string;
  /** What the service waits for before it starts (dependencies), or "". */
  waitingFor?: string;
}

/**
 * Explains an existing service the way the reconciler sees it: the nodes its
 * replicas run on, each node's verdict under its placement (why it is there,
 * or why it would move), and, for a change, only what the reconciler would
 * do (the new replicas and where, the replicas it would stop), not a second
 * copy of the service on top of the running one. Rolling limits are lifted:
 * the dry run shows where the change ends up, not one pass of it.
 */
export function explainService(input: ServiceExplainInput): ServiceExplanation {
  const { spec } = input.desired;
  const nodes = new Map(input.snapshot.nodes.map((n) => [n.id, n]));
  const active = input.replicas.filter((r) => ACTIVE.has(r.status));
  const placer = new Placer(input.snapshot, { cursor: input.cursor });
  let verdicts: NodeVerdict[] = [];
  const step = planService(input.desired, active, [], nodes, Number.MAX_SAFE_INTEGER, (req, discounted) => {
    for (const r of discounted) placer.discount(spec.name, r.nodeId);
    const explained = placer.explain(req);
    verdicts = explained.verdicts;
    return explained.result;
  }, input.waitingFor);
  const placements = step.launches.flatMap((l) => (l.nodeId ? [l.nodeId] : []));
  // Replaced replicas stop now (up to update.max_unavailable) or once a replacement runs: one per new replica placed.
  const stopping = new Set(step.stops.map((s) => s.replicaId));
  const stoppedNow = step.replaced.filter((r) => stopping.has(r.id)).length;
  for (const r of step.replaced.slice(0, stoppedNow + placements.length)) stopping.add(r.id);
  const runningOn = new Map<string, number>();
  const stoppingOn = new Map<string, number>();
  for (const r of active) {
    runningOn.set(r.nodeId, (runningOn.get(r.nodeId) ?? 0) + 1);
    if (stopping.has(r.id)) stoppingOn.set(r.nodeId, (stoppingOn.get(r.nodeId) ?? 0) + 1);
  }
  const unplaced = step.launches.length - placements.length;
  const where = (ids: Iterable<string>) => [...ids].map((id) => nodes.get(id)?.name ?? id).join(", ");
  const parts = [`runs ${active.length} of ${spec.replicas}${active.length ? ` on ${where(runningOn.keys())}` : ""}`];
  if (placements.length) parts.push(`would place ${placements.length} on ${where(placements)}`);
  if (stopping.size) parts.push(`would stop ${stopping.size} on ${where(stoppingOn.keys())}`);
  if (unplaced) parts.push(step.message);
  if (input.waitingFor && spec.replicas > active.length) parts.push(input.waitingFor);
  if (!placements.length && !stopping.size && !unplaced && !input.waitingFor) parts.push("no change");
  return {
    verdicts: verdicts.map((v) => ({ ...v, running: runningOn.get(v.nodeId) ?? 0, stopping: stoppingOn.get(v.nodeId) ?? 0 })),
    placements,
    stoppingReplicaIds: [...stopping],
    summary: parts.join("; "),
  };
}
