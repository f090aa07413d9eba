import type { PlacementRequirements, PlacementStrategy } from "../model/placement.js";

/** The strategy when a request names none: seed 003's round robin. */
export const DEFAULT_STRATEGY: PlacementStrategy = "round_robin";

/** Resource weights of fullness: cpu, memory, disk (zero in a request means the default). */
export type Weights = readonly [cpu: number, memory: number, disk: number];

/** The weights a request's fullness uses: its own, or 1, 1 and 0.5. */
export function weightsOf(req: PlacementRequirements): Weights {
  return [req.weights.cpu || 1, req.weights.memory || 1, req.weights.disk || 0.5];
}

/**
 * How full a node is now: the weighted mean of used / capacity over CPU,
 * memory and disk, counting only the resources whose capacity the node
 * reported (0 when it reported none). What this plan has already placed
 * counts as used.
 */
export function fullness(capacity: readonly number[], used: readonly number[], w: Weights): number {
  let sum = 0;
  let weight = 0;
  for (let r = 0; r < 3; r++) {
    if (capacity[r] > 0) {
      sum += (w[r] * used[r]) / capacity[r];
      weight += w[r];
    }
  }
  return weight > 0 ? sum / weight : 0;
}

/**
 * What a strategy compares, in order (each a number; lower goes first), for
 * one feasible node. These are the definitions the README states:
 *   spread:  fewest of the group's replicas in the node's domain (with a
 *            spread label), then fewest of the group's replicas on the node,
 *            then the emptiest node, then the node id;
 *   binpack: fewest of the group in the domain (with a spread label), fewest
 *            of the group on the node (only with a spread weight), then the
 *            fullest node, then the node id;
 *   round_robin: fewest of the group's replicas on the node, then the first
 *            node after the last one chosen (by any request), in node id order.
 */
export interface StrategyKey {
  domainCount: number;
  nodeCount: number;
  fullness: number;
}

/** Whether the group's own replicas on a node come first (spread, round_robin, or binpack with a spread weight). */
export function groupFirst(req: PlacementRequirements): boolean {
  const s = req.strategy ?? DEFAULT_STRATEGY;
  return s !== "binpack" || req.weights.spread > 0;
}

/** Compares two nodes under a strategy's definition: negative when `a` goes first. */
export function compareKeys(req: PlacementRequirements, a: StrategyKey & { id: string }, b: StrategyKey & { id: string }): number {
  const strategy = req.strategy ?? DEFAULT_STRATEGY;
  if (req.spreadLabel !== "" && a.domainCount !== b.domainCount) return a.domainCount - b.domainCount;
  if (groupFirst(req) && a.nodeCount !== b.nodeCount) return a.nodeCount - b.nodeCount;
  if (a.fullness !== b.fullness) return strategy === "binpack" ? b.fullness - a.fullness : a.fullness - b.fullness;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Four decimals, for people reading explanations. */
export function round(n: number): number {
  return Math.round(n * 1e4) / 1e4;
}
