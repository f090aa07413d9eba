import type { PlacementRequirements, PlacementStrategy } from "../domain/placement.js";
import type { NodeSnapshot, ResourceAmounts } from "./snapshot.js";

/** A node's score and the terms that made it. */
export interface Score {
  total: number;
  terms: Record<string, number>;
}

/** The strategy when a request names none: seed 003's round robin. */
export const DEFAULT_STRATEGY: PlacementStrategy = "round_robin";

/**
 * Scores a feasible node for one more unit of work. Every term is in [0, 1]
 * before weighting, so weights mean what they say.
 *   binpack: fuller nodes first (fewer, busier machines);
 *   spread: emptier nodes first, away from nodes and failure domains that
 *           already run the group;
 *   round_robin: no preference (the placer rotates instead), except the
 *           same group anti-affinity spread uses.
 */
export function score(
  node: NodeSnapshot,
  req: PlacementRequirements,
  used: ResourceAmounts,
  groupHere: number,
  groupInDomain: number,
  groupMaxDomain: number,
): Score {
  const strategy = req.strategy ?? DEFAULT_STRATEGY;
  const w = {
    cpu: req.weights.cpu || 1,
    memory: req.weights.memory || 1,
    disk: req.weights.disk || 0.5,
    spread: req.weights.spread || 1,
  };
  const util = (cap: number, u: number, want: number) => (cap > 0 ? Math.min(1, (u + want) / cap) : 1);
  const cpu = util(node.capacity.cpu, used.cpu, req.resources.cpu);
  const mem = util(node.capacity.memoryMb, used.memoryMb, req.resources.memoryMb);
  const disk = util(node.capacity.diskMb, used.diskMb, req.resources.diskMb);
  const terms: Record<string, number> = {};
  const fit = (w.cpu * cpu + w.memory * mem + w.disk * disk) / (w.cpu + w.memory + w.disk);
  if (strategy === "binpack") terms.binpack = fit;
  if (strategy === "spread") terms.spread = 1 - fit;
  // Anti-affinity: one more unit of the group on this node, and in its domain.
  terms.anti_affinity = -w.spread * (groupHere / (groupHere + 1));
  if (req.spreadLabel !== "" && groupMaxDomain > 0) terms.domain_spread = -w.spread * (groupInDomain / (groupMaxDomain + 1));
  let total = 0;
  for (const v of Object.values(terms)) total += v;
  return { total: Math.round(total * 1e4) / 1e4, terms };
}
