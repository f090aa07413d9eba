import type { Weights } from "./strategy.js";

/** The placer's per-node numbers, which the trees read (index = node's position in the snapshot). */
export interface NodeTable {
  readonly ids: readonly string[];
  /** Capacity per resource (cpu, memory, disk, gpus); 0 where unreported. */
  readonly capacity: readonly Float64Array[];
  /** Used per resource, including what this plan placed. */
  readonly used: readonly Float64Array[];
  /** Free per resource; +Infinity everywhere on a node whose capacity is unknown. */
  readonly free: readonly Float64Array[];
}

/** A range of tree positions whose nodes share one failure domain. */
export interface DomainRange {
  value: string;
  lo: number;
  hi: number;
}

/** The best node found so far: its index (-1 for none), id and fullness. */
export interface Found {
  node: number;
  id: string;
  full: number;
}

/** Nothing found yet, for a search in direction `dir`. */
export function notFound(dir: 1 | -1): Found {
  return { node: -1, id: "", full: dir === 1 ? Infinity : -Infinity };
}

/**
 * A tournament (segment) tree over the nodes that pass a request's static
 * filters, ordered by failure domain then node id. Each subtree keeps the most
 * free of every resource, the least and most fullness, and how many nodes are
 * not masked, so a decision visits only subtrees that can hold a node that
 * fits and beats the best found so far: the exact node a strategy's
 * definition names, in about log(n) steps instead of a scan of every node.
 */
export class CandidateTree {
  /** Node index at each position. */
  readonly nodeAt: Int32Array;
  /** Position of each node index, -1 when the node is not in the tree. */
  readonly posOf: Int32Array;
  readonly ranges: DomainRange[];
  private readonly size: number;
  private readonly maxFree: Float64Array[];
  private readonly minFull: Float64Array;
  /**
   * Most fullness, per set of exhausted resources left out (index: 1 = CPU,
   * 2 = memory, 3 = both): binpack's fullest nodes are often full, and a
   * request that wants CPU can skip subtrees whose fullest CPU-exhausted nodes
   * would otherwise keep the bound high. Still exact: those nodes cannot fit.
   */
  private readonly maxFull: Float64Array[];
  private readonly live: Int32Array;
  private readonly masked: Uint8Array;

  constructor(
    private readonly table: NodeTable,
    members: number[],
    domainOf: (node: number) => string,
    private readonly weights: Weights,
  ) {
    const ids = table.ids;
    const keyed = members.map((i) => ({ i, d: domainOf(i) }));
    keyed.sort((a, b) => (a.d !== b.d ? (a.d < b.d ? -1 : 1) : ids[a.i] < ids[b.i] ? -1 : ids[a.i] > ids[b.i] ? 1 : 0));
    this.nodeAt = Int32Array.from(keyed, (k) => k.i);
    this.posOf = new Int32Array(ids.length).fill(-1);
    this.ranges = [];
    keyed.forEach((k, pos) => {
      this.posOf[k.i] = pos;
      const last = this.ranges[this.ranges.length - 1];
      if (last && last.value === k.d) last.hi = pos + 1;
      else this.ranges.push({ value: k.d, lo: pos, hi: pos + 1 });
    });
    let size = 1;
    while (size < keyed.length) size *= 2;
    this.size = size;
    this.maxFree = [0, 1, 2, 3].map(() => new Float64Array(2 * size).fill(-Infinity));
    this.minFull = new Float64Array(2 * size).fill(Infinity);
    this.maxFull = [0, 1, 2, 3].map(() => new Float64Array(2 * size).fill(-Infinity));
    this.live = new Int32Array(2 * size);
    this.masked = new Uint8Array(size);
    for (let pos = 0; pos < keyed.length; pos++) this.setLeaf(pos);
    for (let t = size - 1; t >= 1; t--) this.pull(t);
  }

  /** How many nodes the tree holds. */
  get length(): number {
    return this.nodeAt.length;
  }

  /** The node's fullness under this tree's weights (strategy.ts's fullness()). */
  fullnessOf(node: number): number {
    // fullness() inlined: this runs on every commit for every tree.
    const { capacity, used } = this.table;
    const w = this.weights;
    let sum = 0;
    let weight = 0;
    for (let r = 0; r < 3; r++) {
      const cap = capacity[r][node];
      if (cap > 0) {
        sum += (w[r] * used[r][node]) / cap;
        weight += w[r];
      }
    }
    return weight > 0 ? sum / weight : 0;
  }

  /** Re-reads a node after its usage changed. */
  update(node: number): void {
    const pos = this.posOf[node];
    if (pos < 0) return;
    this.setLeaf(pos);
    for (let t = (pos + this.size) >> 1; t >= 1; t >>= 1) this.pull(t);
  }

  /** Hides (or shows again) a node from searches. */
  mask(node: number, on: boolean): void {
    const pos = this.posOf[node];
    if (pos < 0 || this.masked[pos] === (on ? 1 : 0)) return;
    this.masked[pos] = on ? 1 : 0;
    this.update(node);
  }

  /** Whether a node fits `want` (per resource). */
  fits(node: number, want: readonly number[]): boolean {
    const f = this.table.free;
    for (let r = 0; r < 4; r++) if (want[r] > 0 && f[r][node] < want[r]) return false;
    return true;
  }

  /**
   * Improves `found` with the unmasked node in positions [lo, hi) that fits
   * `want` with the least (dir 1) or most (dir -1) fullness, the lowest node
   * id among equals. Several ranges can share one `found` (domains that tie).
   */
  best(lo: number, hi: number, want: readonly number[], dir: 1 | -1, found: Found): void {
    const mask = (want[0] > 0 ? 1 : 0) | (want[1] > 0 ? 2 : 0);
    this.search(1, 0, this.size, lo, hi, want, dir, found, this.maxFull[mask]);
  }

  /** The first unmasked position in [lo, hi) whose node fits `want`, or -1. */
  firstFit(lo: number, hi: number, want: readonly number[]): number {
    return this.first(1, 0, this.size, lo, hi, want);
  }

  private first(t: number, tl: number, tr: number, lo: number, hi: number, want: readonly number[]): number {
    if (tr <= lo || hi <= tl || this.live[t] === 0 || !this.mayFit(t, want)) return -1;
    if (tr - tl === 1) return tl;
    const mid = (tl + tr) >> 1;
    const left = this.first(2 * t, tl, mid, lo, hi, want);
    return left >= 0 ? left : this.first(2 * t + 1, mid, tr, lo, hi, want);
  }

  private search(t: number, tl: number, tr: number, lo: number, hi: number, want: readonly number[], dir: 1 | -1, found: Found, maxFull: Float64Array): void {
    if (tr <= lo || hi <= tl || this.live[t] === 0 || !this.mayFit(t, want)) return;
    // Bound: nothing in this subtree can beat the best so far. Within one
    // domain's range ids grow with position, so on a tie the subtree's first
    // position in the range holds its lowest id.
    const bound = dir === 1 ? this.minFull[t] : maxFull[t];
    const worse = dir === 1 ? bound > found.full : bound < found.full;
    if (worse || (bound === found.full && found.node >= 0 && this.table.ids[this.nodeAt[Math.max(tl, lo)]] > found.id)) return;
    if (tr - tl === 1) {
      found.node = this.nodeAt[tl];
      found.id = this.table.ids[found.node];
      found.full = this.minFull[t];
      return;
    }
    const mid = (tl + tr) >> 1;
    const l = 2 * t;
    const r = l + 1;
    // The more promising child first, so the bound prunes the other; left first on a tie.
    const rightFirst = dir === 1 ? this.minFull[r] < this.minFull[l] : maxFull[r] > maxFull[l];
    if (rightFirst) {
      this.search(r, mid, tr, lo, hi, want, dir, found, maxFull);
      this.search(l, tl, mid, lo, hi, want, dir, found, maxFull);
    } else {
      this.search(l, tl, mid, lo, hi, want, dir, found, maxFull);
      this.search(r, mid, tr, lo, hi, want, dir, found, maxFull);
    }
  }

  private mayFit(t: number, want: readonly number[]): boolean {
    for (let r = 0; r < 4; r++) if (want[r] > 0 && this.maxFree[r][t] < want[r]) return false;
    return true;
  }

  private setLeaf(pos: number): void {
    const t = pos + this.size;
    if (pos >= this.nodeAt.length || this.masked[pos]) {
      for (let r = 0; r < 4; r++) this.maxFree[r][t] = -Infinity;
      this.minFull[t] = Infinity;
      for (let m = 0; m < 4; m++) this.maxFull[m][t] = -Infinity;
      this.live[t] = 0;
      return;
    }
    const node = this.nodeAt[pos];
    for (let r = 0; r < 4; r++) this.maxFree[r][t] = this.table.free[r][node];
    const f = this.fullnessOf(node);
    this.minFull[t] = f;
    const free = this.table.free;
    const exhausted = (free[0][node] <= 0 ? 1 : 0) | (free[1][node] <= 0 ? 2 : 0);
    for (let m = 0; m < 4; m++) this.maxFull[m][t] = (exhausted & m) === 0 ? f : -Infinity;
    this.live[t] = 1;
  }

  private pull(t: number): void {
    const l = 2 * t;
    const r = l + 1;
    for (let k = 0; k < 4; k++) this.maxFree[k][t] = Math.max(this.maxFree[k][l], this.maxFree[k][r]);
    this.minFull[t] = Math.min(this.minFull[l], this.minFull[r]);
    for (let m = 0; m < 4; m++) this.maxFull[m][t] = Math.max(this.maxFull[m][l], this.maxFull[m][r]);
    this.live[t] = this.live[l] + this.live[r];
  }
}
