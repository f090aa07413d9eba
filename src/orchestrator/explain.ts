import { CAPACITY_NOT_CHECKED, capacityKnown, FILTERS } from "./filters.js";
import type { PlacementRequest } from "./request.js";
import type { PlacementState } from "./placement-state.js";
import { describeLocality, localityOf, localityScore } from "./locality.js";
import type { ChunkLocalityView, NodeSnapshot } from "./snapshot.js";
import { compareKeys, DEFAULT_STRATEGY, fullness, round, weightsOf, type StrategyKey } from "./strategy.js";

/** The scheduler's verdict on one node. */
export interface NodeVerdict {
  nodeId: string;
  nodeName: string;
  feasible: boolean;
  rejectedBy: string;
  /** Why it was rejected; for a feasible node, what was not checked (capacity unknown), else "". */
  reason: string;
  /** Rank for the next unit: the highest score is where the strategy's definition puts it. */
  score: number;
  /** The values the strategy compares (fullness, the group's units here and in the domain). */
  scoreTerms: Record<string, number>;
  /** Units the dry run would place on the node. */
  placed: number;
  /** With chunk ids: "holds 3.2 GiB of 4.0 GiB wanted"; else "". */
  locality: string;
}

/** The values the strategy compares for node i before a unit of req goes there (what explainNodes reports as scoreTerms, without locality). */
export function termsOf(state: PlacementState, i: number, req: PlacementRequest): Record<string, number> {
  const r = req.requirements;
  const w = weightsOf(r);
  const terms: Record<string, number> = {
    fullness: round(fullness([0, 1, 2].map((k) => state.capacity[k][i]), [0, 1, 2].map((k) => state.used[k][i]), w)),
    units_here: state.unitsOn(req.group, i),
  };
  if (r.spreadLabel !== "") terms.units_in_domain = state.domainCounts(req.group, r.spreadLabel).get(state.labelOf(i, r.spreadLabel)) ?? 0;
  return terms;
}

/** The filter that rejects a node for this request, with its reason. */
export function rejection(state: PlacementState, node: NodeSnapshot, i: number, req: PlacementRequest): [string, string] | undefined {
  if (req.avoid?.has(node.id)) return ["avoid", "excluded by the request (e.g. already holds it)"];
  const used = state.usedOf(i);
  for (const f of FILTERS) {
    const reason = f.check(node, req.requirements, used);
    if (reason !== undefined) return [f.name, reason];
  }
  return undefined;
}

/** Filter name → nodes it rejects now. */
export function rejectionCounts(state: PlacementState, nodes: readonly NodeSnapshot[], req: PlacementRequest): Record<string, number> {
  const counts: Record<string, number> = {};
  nodes.forEach((node, i) => {
    const r = rejection(state, node, i, req);
    if (r) counts[r[0]] = (counts[r[0]] ?? 0) + 1;
  });
  return counts;
}

/**
 * Every node's verdict for the next unit: the filter that rejects it, or its
 * terms and its rank under the strategy's definition, computed here by
 * sorting every feasible node (independently of the placer's candidate trees).
 */
export function explainNodes(state: PlacementState, nodes: readonly NodeSnapshot[], req: PlacementRequest, cursor: string, chunks?: ChunkLocalityView): NodeVerdict[] {
  const r = req.requirements;
  const locality = localityOf(r, chunks, (id) => state.indexOf(id));
  const sign = r.strategy === "binpack" ? 1 : -1;
  const strategy = r.strategy ?? DEFAULT_STRATEGY;
  const weights = weightsOf(r);
  const counts = r.spreadLabel === "" ? undefined : state.domainCounts(req.group, r.spreadLabel);
  const ranked: Array<StrategyKey & { id: string; locality: number; verdict: NodeVerdict }> = [];
  const verdicts = nodes.map((node, i): NodeVerdict => {
    const base = { nodeId: node.id, nodeName: node.name, score: 0, scoreTerms: {}, placed: 0, locality: locality ? describeLocality(locality, i) : "" };
    const rejected = rejection(state, node, i, req);
    if (rejected) return { ...base, feasible: false, rejectedBy: rejected[0], reason: rejected[1] };
    const key: StrategyKey = {
      domainCount: counts?.get(state.labelOf(i, r.spreadLabel)) ?? 0,
      nodeCount: state.unitsOn(req.group, i),
      fullness: fullness([0, 1, 2].map((k) => state.capacity[k][i]), [0, 1, 2].map((k) => state.used[k][i]), weights),
    };
    const terms: Record<string, number> = { fullness: round(key.fullness), units_here: key.nodeCount };
    if (counts) terms.units_in_domain = key.domainCount;
    const score = localityScore(locality, i);
    if (locality) {
      terms.locality = round(score);
      terms.held_bytes = locality.held.get(i) ?? 0;
      // Holding the wanted bytes moves a node toward "emptier" under spread, "fuller" under binpack.
      key.fullness += sign * score;
    }
    const verdict: NodeVerdict = { ...base, feasible: true, rejectedBy: "", reason: capacityKnown(node) ? "" : CAPACITY_NOT_CHECKED, scoreTerms: terms };
    ranked.push({ ...key, id: node.id, locality: score, verdict });
    return verdict;
  });
  if (strategy === "round_robin") {
    // Fewest of the group's units, then the most wanted chunk bytes, then the distance after the cursor in node id order.
    ranked.sort((a, b) =>
      a.nodeCount !== b.nodeCount ? a.nodeCount - b.nodeCount
      : a.locality !== b.locality ? b.locality - a.locality
      : (a.id > cursor) !== (b.id > cursor) ? (a.id > cursor ? -1 : 1)
      : a.id < b.id ? -1 : 1,
    );
  } else {
    ranked.sort((a, b) => compareKeys(r, a, b));
  }
  ranked.forEach((k, rank) => (k.verdict.score = ranked.length - rank));
  return verdicts;
}
