import type { PlacementRequirements } from "../model/placement.js";

/** Place `count` units of a group that need `requirements`. */
export interface PlacementRequest {
  requirements: PlacementRequirements;
  count: number;
  /** The service or deployment the units belong to (for spreading its own units). */
  group: string;
  /** Nodes that must not be chosen (e.g. they already hold the chunk). */
  avoid?: ReadonlySet<string>;
  /** Also say, per placed unit, the values the strategy compared for its node (scheduler decisions). */
  withTerms?: boolean;
}

/** Where the units go, and why the rest could not be placed. */
export interface PlacementResult {
  /** One node id per placed unit, in order. */
  placements: string[];
  unplaced: number;
  /** Filter name → how many nodes it rejected, at the first unit that could not be placed. */
  rejections: Record<string, number>;
  summary: string;
  /** With withTerms: per placed unit, its node's terms as the strategy saw them when it chose. */
  terms?: Array<Record<string, number>>;
}
