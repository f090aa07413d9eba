import type { Replica } from "../model/replica.js";
import { ACTIVE } from "../model/replica.js";
import type { ServiceSpec } from "../model/service-spec.js";
import { Placer } from "./placer.js";
import type { ClusterSnapshot } from "./snapshot.js";

/** A service's desired state: its spec and the hash of that spec. */
export interface DesiredService {
  spec: ServiceSpec;
  specHash: string;
}

/** What the reconciler sees. */
export interface ReconcileInput {
  services: readonly DesiredService[];
  replicas: readonly Replica[];
  snapshot: ClusterSnapshot;
  /** Nodes offline for longer than the grace period: their replicas are lost. */
  lostNodes: ReadonlySet<string>;
  /** At most this many replicas of one service starting at once (rolling updates). */
  maxParallel: number;
  /** round_robin's position after the previous pass (see Placer's cursor). */
  cursor?: string;
}

/** A replica to launch; nodeId undefined when it cannot be placed (reason says why). */
export interface LaunchStep {
  serviceName: string;
  nodeId: string | undefined;
  reason: string;
}

/** What to do to make observed match desired. */
export interface ReconcilePlan {
  launches: LaunchStep[];
  stops: Array<{ replicaId: string; reason: string }>;
  lost: string[];
  /** round_robin's position for the next pass. */
  cursor: string;
}

/**
 * The reconciler: a pure function of (desired services, observed replicas,
 * cluster snapshot) to a plan, in the manner of Nomad's schedulers. It never
 * launches more than maxParallel replicas of a service at once, replaces
 * replicas on draining nodes and with outdated specs only once their
 * replacements run, and stops replicas of deleted services and duplicates on
 * nodes that came back after their replicas were placed elsewhere.
 */
export function reconcile(input: ReconcileInput): ReconcilePlan {
  const plan: ReconcilePlan = { launches: [], stops: [], lost: [], cursor: input.cursor ?? "" };
  const nodes = new Map(input.snapshot.nodes.map((n) => [n.id, n]));
  const byService = new Map<string, Replica[]>();
  const lostOf = new Map<string, Replica[]>();
  for (const r of input.replicas) {
    if (ACTIVE.has(r.status) && input.lostNodes.has(r.nodeId)) {
      plan.lost.push(r.id);
      lostOf.set(r.serviceName, [...(lostOf.get(r.serviceName) ?? []), r]);
      continue;
    }
    // A lost replica whose node is back may still be running there: stop it.
    if (r.status === "lost" && nodes.get(r.nodeId)?.online) plan.stops.push({ replicaId: r.id, reason: "node returned; replica was replaced" });
    if (!ACTIVE.has(r.status)) continue;
    let list = byService.get(r.serviceName);
    if (!list) byService.set(r.serviceName, (list = []));
    list.push(r);
  }
  const desired = new Map(input.services.map((s) => [s.spec.name, s]));
  for (const [name, replicas] of byService) {
    if (!desired.has(name)) for (const r of replicas) plan.stops.push({ replicaId: r.id, reason: "service deleted" });
  }
  const placer = new Placer(input.snapshot, { cursor: input.cursor });
  for (const { spec, specHash } of input.services) {
    const replicas = byService.get(spec.name) ?? [];
    const movable = (r: Replica) => {
      const node = nodes.get(r.nodeId);
      return r.specHash !== specHash || !node || !node.eligible;
    };
    const keep = replicas.filter((r) => !movable(r));
    const replace = replicas.filter(movable);
    // Replicas on their way out keep their resources until they stop, but not their place in the spread.
    for (const r of [...replace, ...(lostOf.get(spec.name) ?? [])]) placer.discount(spec.name, r.nodeId);
    const starting = replicas.filter((r) => r.status === "pending").length;
    const want = spec.replicas;
    const missing = want - keep.length;
    const budget = Math.max(0, input.maxParallel - starting);
    const toLaunch = Math.min(Math.max(0, missing), budget);
    if (toLaunch > 0) {
      const result = placer.place({ requirements: spec.placement, count: toLaunch, group: spec.name });
      for (const nodeId of result.placements) plan.launches.push({ serviceName: spec.name, nodeId, reason: "" });
      for (let i = 0; i < result.unplaced; i++) plan.launches.push({ serviceName: spec.name, nodeId: undefined, reason: result.summary });
    }
    // Old replicas go once enough up-to-date ones run: never below the desired count.
    const runningKept = keep.filter((r) => r.status === "running").length;
    const surplusReplace = Math.max(0, Math.min(replace.length, runningKept + replace.length - want));
    const ordered = [...replace].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    for (const r of ordered.slice(0, surplusReplace)) {
      plan.stops.push({ replicaId: r.id, reason: r.specHash !== specHash ? "spec changed" : "node draining or ineligible" });
    }
    if (keep.length > want) {
      const newestFirst = [...keep].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
      for (const r of newestFirst.slice(0, keep.length - want)) plan.stops.push({ replicaId: r.id, reason: "scaled down" });
    }
  }
  plan.cursor = placer.cursor;
  return plan;
}
