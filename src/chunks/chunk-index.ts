import { ChunkHolders } from "./chunk-holders.js";
import { ChunkIdTable } from "./chunk-id-table.js";

/**
 * The chunk location index, HDFS NameNode style: soft state in memory, rebuilt
 * from node reports. Node ids and chunk ids are interned to small integers
 * (see ChunkIdTable). Everything per chunk sits in typed arrays indexed by
 * its number: size, dirty flag, and its holders (see ChunkHolders); each node
 * keeps its chunks as a sorted Int32Array (rebuilt on full reports).
 * Millions of chunks thus cost a few typed arrays, not millions of small
 * objects: less memory, and nothing for the garbage collector to trace.
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
  private readonly ids = new ChunkIdTable();
  /** Capacity of the per-chunk arrays below. */
  private cap = 1024;
  private sizes = new Float64Array(this.cap);
  private readonly holders = new ChunkHolders(this.cap);
  private targets = new Map<number, number>();
  /** Chunks whose holder count changed since the planner last looked: a list, and a flag per chunk against duplicates. */
  private dirtyList = new Int32Array(1024);
  private dirtyCount = 0;
  private dirtyFlag = new Uint8Array(this.cap);
  private readonly mis = new Set<number>();
  /** locate()'s per-call cache of preferences by node number: the call's epoch, and the value. */
  private prefStamp = new Int32Array(0);
  private prefValue = new Float64Array(0);
  private prefEpoch = 0;
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
      const k = this.ids.find(id);
      if (k >= 0 && set.delete(k)) this.removeHolder(k, n);
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

  /**
   * Forgets every location and every node (a new chunk owner starts empty and
   * is rebuilt from full reports); replication targets stay, they are stored.
   */
  clear(): void {
    for (const id of this.nodeIds) this.dropNode(id);
    this.nodeNum.clear();
    this.nodeIds.length = 0;
    this.online.length = 0;
    this.nodeChunks.length = 0;
    this.prefStamp = new Int32Array(0);
    this.prefValue = new Float64Array(0);
    // Chunks left without holders are not misreplicated: they are unknown until reported again.
    for (let i = 0; i < this.dirtyCount; i++) this.dirtyFlag[this.dirtyList[i]] = 0;
    this.dirtyCount = 0;
    this.mis.clear();
  }

  /**
   * Online holders of each chunk, ordered by `prefer` (lower first); unknown
   * chunks get []. With `sizes`, each chunk's size is written to it too (0 when unknown).
   */
  locate(chunkIds: readonly string[], prefer: (nodeId: string) => number = () => 0, sizes?: number[]): string[][] {
    // `prefer` runs once per node per call, not once per comparison: it may be costly (load figures).
    if (this.prefStamp.length < this.nodeIds.length) {
      this.prefStamp = new Int32Array(this.nodeIds.length * 2);
      this.prefValue = new Float64Array(this.nodeIds.length * 2);
    }
    const epoch = (this.prefEpoch = (this.prefEpoch + 1) | 0);
    const pref = (n: number) => {
      if (this.prefStamp[n] !== epoch) {
        this.prefStamp[n] = epoch;
        this.prefValue[n] = prefer(this.nodeIds[n]);
      }
      return this.prefValue[n];
    };
    const before = (a: number, b: number) => {
      const d = pref(a) - pref(b);
      return d < 0 || (d === 0 && this.nodeIds[a] < this.nodeIds[b]);
    };
    const out: string[][] = new Array(chunkIds.length);
    const hs: number[] = [];
    const holders = this.holders;
    for (let q = 0; q < chunkIds.length; q++) {
      const k = this.ids.find(chunkIds[q]);
      const c = k < 0 ? 0 : holders.count(k);
      if (sizes) sizes[q] = k < 0 ? 0 : this.sizes[k];
      hs.length = 0;
      for (let i = 0; i < c; i++) {
        const n = holders.at(k, i);
        if (!this.online[n]) continue;
        // Insertion sort: a chunk has a handful of holders.
        let j = hs.length;
        hs.push(n);
        while (j > 0 && before(n, hs[j - 1])) hs[j] = hs[--j];
        hs[j] = n;
      }
      const peers: string[] = new Array(hs.length);
      for (let i = 0; i < hs.length; i++) peers[i] = this.nodeIds[hs[i]];
      out[q] = peers;
    }
    return out;
  }

  /** A chunk's size and online holders (chunk-aware placement's view); undefined for a chunk nobody reported. */
  chunkLocation(chunkId: string): { size: number; holders: string[] } | undefined {
    const k = this.ids.find(chunkId);
    if (k < 0) return undefined;
    const holders = this.holders;
    const c = holders.count(k);
    const out: string[] = [];
    for (let i = 0; i < c; i++) {
      const n = holders.at(k, i);
      if (this.online[n]) out.push(this.nodeIds[n]);
    }
    return { size: this.sizes[k], holders: out };
  }

  /** All holders (online or within grace) of a chunk. */
  holdersOf(chunkId: string): string[] {
    const k = this.ids.find(chunkId);
    return k < 0 ? [] : this.holders.list(k).map((n) => this.nodeIds[n]);
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
    this.markDirty(k);
  }

  /** A chunk's replication target. */
  targetOf(chunkId: string): number {
    const k = this.ids.find(chunkId);
    return (k >= 0 ? this.targets.get(k) : undefined) ?? this.defaultTarget;
  }

  /** Chunk ids and sizes for internal numbers (used by the replication monitor). */
  describe(k: number): { id: string; size: number; holders: string[]; target: number } {
    return { id: this.ids.idOf(k), size: this.sizes[k], holders: this.holders.list(k).map((n) => this.nodeIds[n]), target: this.targets.get(k) ?? this.defaultTarget };
  }

  /**
   * Folds the chunks that changed since the last call into the set of
   * misreplicated chunks and returns that set's states: O(changed +
   * misreplicated), never a scan of every chunk. Counts are kept alongside.
   */
  misreplicatedNow(): { chunks: ReturnType<ChunkIndex["describe"]>[]; under: number; over: number; zero: number } {
    for (let i = 0; i < this.dirtyCount; i++) {
      const k = this.dirtyList[i];
      this.dirtyFlag[k] = 0;
      const count = this.holders.count(k);
      if (count === 0 || count !== (this.targets.get(k) ?? this.defaultTarget)) this.mis.add(k);
      else this.mis.delete(k);
    }
    this.dirtyCount = 0;
    let under = 0;
    let over = 0;
    let zero = 0;
    const chunks = [];
    for (const k of this.mis) {
      const t = this.targets.get(k) ?? this.defaultTarget;
      const count = this.holders.count(k);
      if (count === t) {
        this.mis.delete(k);
        continue;
      }
      if (!this.anyOnline(k)) zero++;
      if (count < t) under++;
      else over++;
      chunks.push(this.describe(k));
    }
    return { chunks, under, over, zero };
  }

  /** Every chunk number with a holder count different from its target. */
  *misreplicated(): Generator<number> {
    for (let k = 0; k < this.ids.size; k++) {
      const count = this.holders.count(k);
      if (count === 0) continue;
      if (count !== (this.targets.get(k) ?? this.defaultTarget)) yield k;
    }
  }

  /** Up to `limit` of the chunk ids a node holds, in the index's order (stable between reports). */
  chunksOf(nodeId: string, limit: number): string[] {
    const n = this.nodeNum.get(nodeId);
    if (n === undefined) return [];
    const held = this.nodeChunks[n];
    const out = new Array<string>(Math.min(limit, held.length));
    for (let i = 0; i < out.length; i++) out[i] = this.ids.idOf(held[i]);
    return out;
  }

  /** How many chunks a node holds. */
  countOf(nodeId: string): number {
    const n = this.nodeNum.get(nodeId);
    return n === undefined ? 0 : this.nodeChunks[n].length;
  }

  /** Bytes of the chunks a node holds (sizes as reported; unknown sizes count 0). */
  bytesOf(nodeId: string): number {
    const n = this.nodeNum.get(nodeId);
    if (n === undefined) return 0;
    let sum = 0;
    for (const k of this.nodeChunks[n]) sum += this.sizes[k];
    return sum;
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
    const k = this.ids.intern(id);
    if (k >= this.cap) this.growChunks(k + 1);
    if (size !== undefined && size > 0 && this.sizes[k] !== size) {
      if (this.holders.count(k) > 0) this.bytes += size - this.sizes[k];
      this.sizes[k] = size;
    }
    return k;
  }

  /** Grows every per-chunk array together, by half again, so growth is amortised O(1). */
  private growChunks(min: number): void {
    const cap = Math.max(min, Math.ceil(this.cap * 1.5));
    this.sizes = copyInto(new Float64Array(cap), this.sizes);
    this.holders.grow(cap);
    this.dirtyFlag = copyInto(new Uint8Array(cap), this.dirtyFlag);
    this.cap = cap;
  }

  private anyOnline(k: number): boolean {
    const holders = this.holders;
    const c = holders.count(k);
    for (let i = 0; i < c; i++) if (this.online[holders.at(k, i)]) return true;
    return false;
  }

  private markDirty(k: number): void {
    if (this.dirtyFlag[k]) return;
    this.dirtyFlag[k] = 1;
    if (this.dirtyCount === this.dirtyList.length) this.dirtyList = copyInto(new Int32Array(Math.ceil(this.dirtyList.length * 1.5)), this.dirtyList);
    this.dirtyList[this.dirtyCount++] = k;
  }

  private addHolder(k: number, n: number): void {
    if (this.holders.add(k, n) === 1) {
      this.live++;
      this.bytes += this.sizes[k];
    }
    this.locations++;
    this.markDirty(k);
  }

  private removeHolder(k: number, n: number): void {
    const left = this.holders.remove(k, n);
    if (left < 0) return;
    this.locations--;
    this.markDirty(k);
    if (left === 0) {
      this.live--;
      this.bytes -= this.sizes[k];
    }
  }
}

function copyInto<T extends Int32Array | Float64Array | Uint8Array>(to: T, from: T): T {
  to.set(from as never);
  return to;
}

function dedupeSorted(a: Int32Array): Int32Array {
  let w = 0;
  for (let r = 0; r < a.length; r++) if (r === 0 || a[r] !== a[r - 1]) a[w++] = a[r];
  return w === a.length ? a : a.slice(0, w);
}
