import type { Replica } from "../model/replica.js";
import { ACTIVE } from "../model/replica.js";
import type { ServiceSpec } from "../model/service-spec.js";
import { dependencyWait } from "../model/service-dependencies.js";
import { Placer } from "./placer.js";
import { DEFAULT_STRATEGY } from "./strategy.js";
import type { PlacementRequest, PlacementResult } from "./request.js";
import type { ClusterSnapshot, NodeSnapshot } from "./snapshot.js";

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
  /** Placed: the strategy that chose the node; else why it could not be placed. */
  reason: string;
  /** Placed: the values the strategy compared for the node (see explain's scoreTerms). */
  scoreTerms?: Record<string, number>;
}

/** What to do to make observed match desired. */
export interface ReconcilePlan {
  launches: LaunchStep[];
  stops: Array<{ replicaId: string; reason: string }>;
  lost: string[];
  /** round_robin's position for the next pass. */
  cursor: string;
  /** Per service not yet as desired: why (e.g. why its update waits). */
  messages: Record<string, string>;
}

/** One service's part of a plan. */
export interface ServicePlan {
  launches: LaunchStep[];
  stops: Array<{ replicaId: string; reason: string }>;
  /** Why the service is not as desired after this plan, or "". */
  message: string;
  /** Replicas being replaced (spec changed, node draining or gone), oldest first: each stops once a replacement runs. */
  replaced: Replica[];
}

/**
 * One service's launches and stops. `replicas` are its active replicas (not
 * on lost nodes), `lost` those on lost nodes; `place` places units (the
 * reconciler's shared placer, or explain's dry run).
 */
export function planService(
  { spec, specHash }: DesiredService,
  replicas: readonly Replica[],
  lost: readonly Replica[],
  nodes: ReadonlyMap<string, NodeSnapshot>,
  defaultMaxParallel: number,
  place: (req: PlacementRequest, discounted: readonly Replica[]) => PlacementResult,
  waitingFor = "",
): ServicePlan {
  const out: ServicePlan = { launches: [], stops: [], message: "", replaced: [] };
  const maxParallel = spec.update?.maxParallel || defaultMaxParallel;
  const maxUnavailable = spec.update?.maxUnavailable ?? 0;
  const movable = (r: Replica) => {
    const node = nodes.get(r.nodeId);
    return r.specHash !== specHash || !node || !node.eligible;
  };
  const keep = replicas.filter((r) => !movable(r));
  const replace = replicas.filter(movable);
  const starting = replicas.filter((r) => r.status === "pending").length;
  const want = spec.replicas;
  const missing = want - keep.length;
  const budget = Math.max(0, maxParallel - starting);
  // A service whose dependencies do not all run yet starts nothing (it still scales down and stops old replicas).
  const toLaunch = waitingFor ? 0 : Math.min(Math.max(0, missing), budget);
  // Replicas on their way out keep their resources until they stop, but not their place in the spread.
  const result = place({ requirements: spec.placement, count: toLaunch, group: spec.name, withTerms: true }, [...replace, ...lost]);
  const strategy = spec.placement.strategy ?? DEFAULT_STRATEGY;
  result.placements.forEach((nodeId, i) => out.launches.push({ serviceName: spec.name, nodeId, reason: `chosen by the ${strategy} strategy`, scoreTerms: result.terms?.[i] }));
  for (let i = 0; i < result.unplaced; i++) out.launches.push({ serviceName: spec.name, nodeId: undefined, reason: result.summary });
  // Old replicas go once enough up-to-date ones run (never below the desired count), or up to update.max_unavailable sooner.
  const runningKept = keep.filter((r) => r.status === "running").length;
  const surplusReplace = Math.max(0, Math.min(replace.length, runningKept + replace.length - want + maxUnavailable));
  const ordered = [...replace].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  out.replaced = ordered;
  for (const r of ordered.slice(0, surplusReplace)) {
    out.stops.push({ replicaId: r.id, reason: r.specHash !== specHash ? "spec changed" : "node draining or ineligible" });
  }
  if (keep.length > want) {
    const newestFirst = [...keep].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    for (const r of newestFirst.slice(0, keep.length - want)) out.stops.push({ replicaId: r.id, reason: "scaled down" });
  }
  if (waitingFor && missing > 0) out.message = waitingFor;
  else if (result.unplaced > 0) {
    const waiting = replace.length - surplusReplace;
    out.message =
      waiting > 0 && maxUnavailable === 0
        ? `update waits: ${result.summary}; ${waiting} old replica${waiting === 1 ? "" : "s"} stop only after their replacements run (update.max_unavailable is 0: set it to let old replicas stop first)`
        : `${result.unplaced} replica${result.unplaced === 1 ? "" : "s"} cannot be placed: ${result.summary}`;
  }
  return out;
}

/**
 * The reconciler: a pure function of (desired services, observed replicas,
 * cluster snapshot) to a plan, in the manner of Nomad's schedulers. It never
 * launches more than maxParallel replicas of a service at once, replaces
 * replicas on draining nodes and with outdated specs only once their
 * replacements run (or up to the service's update.max_unavailable sooner), and stops replicas of deleted services and duplicates on
 * nodes that came back after their replicas were placed elsewhere.
 */
export function reconcile(input: ReconcileInput): ReconcilePlan {
  const plan: ReconcilePlan = { launches: [], stops: [], lost: [], cursor: input.cursor ?? "", messages: {} };
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
  for (const service of input.services) {
    const waiting = dependencyWait(
      service.spec.dependencies.map((name) => ({
        name,
        desired: desired.get(name)?.spec.replicas,
        running: (byService.get(name) ?? []).filter((r) => r.status === "running").length,
      })),
    );
    const step = planService(service, byService.get(service.spec.name) ?? [], lostOf.get(service.spec.name) ?? [], nodes, input.maxParallel, (req, discounted) => {
      for (const r of discounted) placer.discount(service.spec.name, r.nodeId);
      return placer.place(req);
    }, waiting);
    plan.launches.push(...step.launches);
    plan.stops.push(...step.stops);
    if (step.message) plan.messages[service.spec.name] = step.message;
  }
  plan.cursor = placer.cursor;
  return plan;
}
