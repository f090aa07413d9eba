/**
 * The chunk location index, HDFS NameNode style: soft state in memory, rebuilt
 * from node reports. Node ids and chunk ids are interned to small integers;
 * each chunk keeps its holders as a small array of node numbers, and each
 * node its chunks as a sorted Int32Array (rebuilt on full reports), so a
 * location costs a few bytes beyond the chunk id itself.
 *
 * Holders include nodes that are offline but within their grace period: they
 * are hidden from location queries at once, but still count as replicas, so a
 * short blip causes no replication storm. dropNode() forgets a node for good.
 */
export class ChunkIndex {
  private readonly nodeNum = new Map<string, number>();
  private readonly nodeIds: string[] = [];
  private readonly online: boolean[] = [];
  private readonly nodeChunks: Array<Int32Array> = [];
  private readonly chunkNum = new Map<string, number>();
  private readonly chunkIds: string[] = [];
  private holders: Array<number[] | undefined> = [];
  private sizes = new Float64Array(1024);
  private targets = new Map<number, number>();
  /** Chunks whose holder count changed since the planner last looked. */
  readonly dirty = new Set<number>();
  private readonly mis = new Set<number>();
  private live = 0;
  private locations = 0;
  private bytes = 0;

  constructor(private defaultTarget = 3) {}

  /** The replication target used when a chunk has none of its own. */
  get defaultReplication(): number {
    return this.defaultTarget;
  }

  /** Replaces everything known about a node's chunks. */
  fullReport(nodeId: string, chunks: ReadonlyArray<{ id: string; size?: number }>): number {
    const n = this.node(nodeId);
    const next = new Int32Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) next[i] = this.chunk(chunks[i].id, chunks[i].size);
    next.sort();
    const unique = dedupeSorted(next);
    const prev = this.nodeChunks[n];
    // Walk both sorted lists once: removed ones lose this holder, added ones gain it.
    let i = 0;
    let j = 0;
    while (i < prev.length || j < unique.length) {
      if (j >= unique.length || (i < prev.length && prev[i] < unique[j])) this.removeHolder(prev[i++], n);
      else if (i >= prev.length || unique[j] < prev[i]) this.addHolder(unique[j++], n);
      else {
        i++;
        j++;
      }
    }
    this.nodeChunks[n] = unique;
    return unique.length;
  }

  /** Adds and removes chunks of a node. */
  update(nodeId: string, added: ReadonlyArray<{ id: string; size?: number }>, removed: readonly string[]): number {
    const n = this.node(nodeId);
    const set = new Set(this.nodeChunks[n]);
    for (const c of added) {
      const k = this.chunk(c.id, c.size);
      if (!set.has(k)) {
        set.add(k);
        this.addHolder(k, n);
      }
    }
    for (const id of removed) {
      const k = this.chunkNum.get(id);
      if (k !== undefined && set.delete(k)) this.removeHolder(k, n);
    }
    this.nodeChunks[n] = Int32Array.from(set).sort();
    return set.size;
  }

  /** Marks a node online or offline; offline nodes vanish from locate() at once. */
  setOnline(nodeId: string, online: boolean): void {
    const n = this.nodeNum.get(nodeId);
    if (n !== undefined) this.online[n] = online;
  }

  /** Forgets a node's locations (after its grace period, or when it is deleted). */
  dropNode(nodeId: string): void {
    const n = this.nodeNum.get(nodeId);
    if (n === undefined) return;
    for (const k of this.nodeChunks[n]) this.removeHolder(k, n);
    this.nodeChunks[n] = new Int32Array(0);
  }

  /** Online holders of each chunk, ordered by `prefer` (lower first); unknown chunks get []. */
  locate(chunkIds: readonly string[], prefer: (nodeId: string) => number = () => 0): string[][] {
    return chunkIds.map((id) => {
      const k = this.chunkNum.get(id);
      const hs = k === undefined ? undefined : this.holders[k];
      if (!hs) return [];
      const out: string[] = [];
      for (const n of hs) if (this.online[n]) out.push(this.nodeIds[n]);
      if (out.length > 1) out.sort((a, b) => prefer(a) - prefer(b) || (a < b ? -1 : a > b ? 1 : 0));
      return out;
    });
  }

  /** All holders (online or within grace) of a chunk. */
  holdersOf(chunkId: string): string[] {
    const k = this.chunkNum.get(chunkId);
    return k === undefined ? [] : (this.holders[k] ?? []).map((n) => this.nodeIds[n]);
  }

  /** Whether a node has ever reported (it is then a cache node, a candidate for copies). */
  knows(nodeId: string): boolean {
    return this.nodeNum.has(nodeId);
  }

  /** Whether a node is online, as far as the index knows. */
  isOnline(nodeId: string): boolean {
    const n = this.nodeNum.get(nodeId);
    return n !== undefined && this.online[n];
  }

  /** Sets a chunk's target; 0 restores the default. */
  setTarget(chunkId: string, factor: number): void {
    const k = this.chunk(chunkId);
    if (factor > 0) this.targets.set(k, factor);
    else this.targets.delete(k);
    this.dirty.add(k);
  }

  /** A chunk's replication target. */
  targetOf(chunkId: string): number {
    const k = this.chunkNum.get(chunkId);
    return (k !== undefined ? this.targets.get(k) : undefined) ?? this.defaultTarget;
  }

  /** Chunk ids and sizes for internal numbers (used by the replication monitor). */
  describe(k: number): { id: string; size: number; holders: string[]; target: number } {
    return { id: this.chunkIds[k], size: this.sizes[k], holders: (this.holders[k] ?? []).map((n) => this.nodeIds[n]), target: this.targets.get(k) ?? this.defaultTarget };
  }

  /**
   * Folds the chunks that changed since the last call into the set of
   * misreplicated chunks and returns that set's states: O(changed +
   * misreplicated), never a scan of every chunk. Counts are kept alongside.
   */
  misreplicatedNow(): { chunks: ReturnType<ChunkIndex["describe"]>[]; under: number; over: number; zero: number } {
    for (const k of this.dirty) {
      const h = this.holders[k];
      const t = this.targets.get(k) ?? this.defaultTarget;
      if (h === undefined || h.length !== t) this.mis.add(k);
      else this.mis.delete(k);
    }
    this.dirty.clear();
    let under = 0;
    let over = 0;
    let zero = 0;
    const chunks = [];
    for (const k of this.mis) {
      const h = this.holders[k];
      const t = this.targets.get(k) ?? this.defaultTarget;
      const count = h?.length ?? 0;
      if (count === t) {
        this.mis.delete(k);
        continue;
      }
      if (count === 0 || !h?.some((n) => this.online[n])) zero++;
      if (count < t) under++;
      else over++;
      chunks.push(this.describe(k));
    }
    return { chunks, under, over, zero };
  }

  /** Every chunk number with a holder count different from its target. */
  *misreplicated(): Generator<number> {
    for (let k = 0; k < this.holders.length; k++) {
      const h = this.holders[k];
      if (!h) continue;
      const t = this.targets.get(k) ?? this.defaultTarget;
      if (h.length !== t) yield k;
    }
  }

  /** How many chunks a node holds. */
  countOf(nodeId: string): number {
    const n = this.nodeNum.get(nodeId);
    return n === undefined ? 0 : this.nodeChunks[n].length;
  }

  /** Counters, maintained as reports arrive: O(1). */
  stats(): { chunks: number; locations: number; bytes: number } {
    return { chunks: this.live, locations: this.locations, bytes: this.bytes };
  }

  private node(id: string): number {
    let n = this.nodeNum.get(id);
    if (n === undefined) {
      n = this.nodeIds.length;
      this.nodeNum.set(id, n);
      this.nodeIds.push(id);
      this.online.push(true);
      this.nodeChunks.push(new Int32Array(0));
    }
    return n;
  }

  private chunk(id: string, size?: number): number {
    let k = this.chunkNum.get(id);
    if (k === undefined) {
      k = this.chunkIds.length;
      this.chunkNum.set(id, k);
      this.chunkIds.push(id);
      if (k >= this.sizes.length) {
        const grown = new Float64Array(this.sizes.length * 2);
        grown.set(this.sizes);
        this.sizes = grown;
      }
      this.holders.push(undefined);
    }
    if (size !== undefined && size > 0 && this.sizes[k] !== size) {
      if (this.holders[k]) this.bytes += size - this.sizes[k];
      this.sizes[k] = size;
    }
    return k;
  }

  // Holder arrays are replaced, never grown in place: push() would over-allocate
  // backing stores (17 slots for one holder), which at millions of chunks is most of the memory.
  private addHolder(k: number, n: number): void {
    const hs = this.holders[k];
    if (!hs) {
      this.holders[k] = [n];
      this.live++;
      this.bytes += this.sizes[k];
    } else {
      this.holders[k] = hs.concat(n);
    }
    this.locations++;
    this.dirty.add(k);
  }

  private removeHolder(k: number, n: number): void {
    const hs = this.holders[k];
    if (!hs) return;
    const i = hs.indexOf(n);
    if (i < 0) return;
    const rest = hs.length === 1 ? undefined : hs.filter((x) => x !== n);
    this.holders[k] = rest;
    this.locations--;
    this.dirty.add(k);
    if (!rest) {
      this.holders[k] = undefined;
      this.live--;
      this.bytes -= this.sizes[k];
    }
  }
}

function dedupeSorted(a: Int32Array): Int32Array {
  let w = 0;
  for (let r = 0; r < a.length; r++) if (r === 0 || a[r] !== a[r - 1]) a[w++] = a[r];
  return w === a.length ? a : a.slice(0, w);
}
