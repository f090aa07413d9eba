import type { PlacementRequirements, PlacementStrategy } from "../model/placement.js";
import type { NodeSnapshot, ResourceAmounts } from "./snapshot.js";

/** The strategy when a request names none: seed 003's round robin. */
export const DEFAULT_STRATEGY: PlacementStrategy = "round_robin";

/**
 * Scores a feasible node for one more unit of work; when `terms` is given it
 * also records each term (for explanations; the hot path passes none). Every term is in [0, 1]
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
  terms?: Record<string, number>,
): number {
  const strategy = req.strategy ?? DEFAULT_STRATEGY;
  const ws = req.weights.spread || 1;
  let total = 0;
  if (strategy !== "round_robin") {
    const wc = req.weights.cpu || 1;
    const wm = req.weights.memory || 1;
    const wd = req.weights.disk || 0.5;
    const r = req.resources;
    const cpu = util(node.capacity.cpu, used.cpu, r.cpu);
    const mem = util(node.capacity.memoryMb, used.memoryMb, r.memoryMb);
    const disk = util(node.capacity.diskMb, used.diskMb, r.diskMb);
    const fit = (wc * cpu + wm * mem + wd * disk) / (wc + wm + wd);
    const term = strategy === "binpack" ? fit : 1 - fit;
    total += term;
    if (terms) terms[strategy] = round(term);
  }
  // Anti-affinity: one more unit of the group on this node, and in its domain.
  const anti = -ws * (groupHere / (groupHere + 1));
  total += anti;
  if (terms) terms.anti_affinity = round(anti);
  if (req.spreadLabel !== "" && groupMaxDomain > 0) {
    const domain = -ws * (groupInDomain / (groupMaxDomain + 1));
    total += domain;
    if (terms) terms.domain_spread = round(domain);
  }
  return total;
}

function util(cap: number, used: number, want: number): number {
  return cap > 0 ? Math.min(1, (used + want) / cap) : 1;
}

/** Four decimals, for people reading explanations. */
export function round(n: number): number {
  return Math.round(n * 1e4) / 1e4;
}
