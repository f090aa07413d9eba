/** Holders kept inline per chunk: the usual replication target, so only over-replicated chunks reach the side map. */
const INLINE = 3;

/**
 * Which nodes hold each chunk, by chunk number and node number (both interned
 * by ChunkIndex). A chunk's holder count and its first INLINE holders sit in
 * two typed arrays indexed by its number, so millions of chunks cost two
 * flat arrays rather than millions of small arrays for the GC to trace; the
 * rare holders past the INLINE-th go to a side map. Holders keep the order
 * they were added in, wherever they are stored, because holdersOf() and the
 * replication planner's state report them in that order.
 *
 * One shape and small methods, so V8 can inline them into the index's hot
 * loops (ingest, locate): the split costs no allocation or extra lookup per
 * holder over keeping these arrays in ChunkIndex itself.
 */
export class ChunkHolders {
  private counts: Int32Array;
  /** INLINE slots per chunk, side by side, so reading a chunk's holders touches one spot in memory. */
  private inline: Int32Array;
  private readonly extra = new Map<number, number[]>();

  /** Room for `capacity` chunks; grow() makes more. */
  constructor(capacity: number) {
    this.counts = new Int32Array(capacity);
    this.inline = new Int32Array(capacity * INLINE);
  }

  /**
   * Makes room for `capacity` chunks. The caller picks the size, so that
   * every per-chunk array in the index grows in step (amortised O(1)).
   */
  grow(capacity: number): void {
    const counts = new Int32Array(capacity);
    counts.set(this.counts);
    this.counts = counts;
    const inline = new Int32Array(capacity * INLINE);
    inline.set(this.inline);
    this.inline = inline;
  }

  /** How many nodes hold chunk `k`. */
  count(k: number): number {
    return this.counts[k];
  }

  /** The node number of chunk `k`'s `i`-th holder, 0 <= i < count(k), in the order they were added. */
  at(k: number, i: number): number {
    return i < INLINE ? this.inline[k * INLINE + i] : this.extra.get(k)![i - INLINE];
  }

  /** Chunk `k`'s holders' node numbers, in the order they were added. */
  list(k: number): number[] {
    const c = this.counts[k];
    const out: number[] = new Array(c);
    for (let i = 0; i < c; i++) out[i] = this.at(k, i);
    return out;
  }

  /**
   * Adds node `n` as a holder of chunk `k`, which it must not hold yet (the
   * index checks against the node's own chunk list, so this need not search).
   * Returns the new count, so the caller can tell a chunk's first holder.
   */
  add(k: number, n: number): number {
    const c = this.counts[k];
    if (c < INLINE) this.inline[k * INLINE + c] = n;
    else if (c === INLINE) this.extra.set(k, [n]);
    else this.extra.get(k)!.push(n);
    return (this.counts[k] = c + 1);
  }

  /**
   * Removes node `n` from chunk `k`'s holders. Returns the new count, so the
   * caller can tell the last holder went, or -1 if `n` was not a holder.
   */
  remove(k: number, n: number): number {
    const c = this.counts[k];
    const base = k * INLINE;
    const inlined = Math.min(c, INLINE);
    let i = 0;
    while (i < inlined && this.inline[base + i] !== n) i++;
    const more = c > INLINE ? this.extra.get(k)! : undefined;
    if (i < inlined) {
      // Shift the later holders down, keeping the order they were added in.
      this.inline.copyWithin(base + i, base + i + 1, base + inlined);
      if (more) this.inline[base + INLINE - 1] = more.shift()!;
    } else {
      const j = more ? more.indexOf(n) : -1;
      if (j < 0) return -1;
      more!.splice(j, 1);
    }
    // Drop the entry once empty, so the map costs only chunks over-replicated now, not ever.
    if (more?.length === 0) this.extra.delete(k);
    return (this.counts[k] = c - 1);
  }
}
