import type { PlacementRequirements } from "../model/placement.js";
import type { ChunkLocalityView } from "./snapshot.js";

/**
 * Chunk locality for one request: how many of the wanted bytes each node
 * holds. Only holders appear in `held` (a request reads a handful of chunks,
 * each on a few nodes), so a decision looks at those few nodes and not at
 * every node in the cluster.
 */
export interface Locality {
  /** Bytes of every wanted chunk the index knows (a chunk of unknown size counts as 1 byte). */
  wanted: number;
  /** Node index → bytes of the wanted chunks it holds (online holders only). */
  held: Map<number, number>;
  /** weights.locality, 1 when not given. */
  weight: number;
}

/** The locality of a request, or undefined when it lists no chunks or the snapshot has no chunk view. */
export function localityOf(
  r: PlacementRequirements,
  view: ChunkLocalityView | undefined,
  indexOf: (nodeId: string) => number | undefined,
): Locality | undefined {
  const ids = r.chunkIds ?? [];
  if (!view || ids.length === 0) return undefined;
  const held = new Map<number, number>();
  let wanted = 0;
  for (const id of ids) {
    const at = view.chunkLocation(id);
    if (!at) continue;
    const size = Math.max(1, at.size);
    wanted += size;
    for (const holder of at.holders) {
      const i = indexOf(holder);
      if (i !== undefined) held.set(i, (held.get(i) ?? 0) + size);
    }
  }
  return { wanted, held, weight: r.weights.locality || 1 };
}

/** The node's locality term: the share of the wanted bytes it holds, times the weight (0 for a node holding none). */
export function localityScore(l: Locality | undefined, node: number): number {
  if (!l || l.wanted === 0) return 0;
  const h = l.held.get(node);
  return h === undefined ? 0 : (l.weight * h) / l.wanted;
}

/** "holds 3.2 GiB of 4.0 GiB wanted", for explain. */
export function describeLocality(l: Locality, node: number): string {
  return `holds ${formatBytes(l.held.get(node) ?? 0)} of ${formatBytes(l.wanted)} wanted`;
}

/** Bytes for people: B, KiB, MiB, GiB, TiB with one decimal. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}
