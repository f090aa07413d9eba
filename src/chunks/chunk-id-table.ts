/** Hex digit values by character code; -1 for anything but 0-9 and a-f. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) NIBBLE["0123456789abcdef".charCodeAt(d)] = d;
const WORDS = 8;

/**
 * Interns chunk ids to dense numbers 0, 1, 2, ... Cache nodes name chunks by
 * SHA-256 (64 lowercase hex digits); such an id is kept as 8 words in one
 * typed array and found through an open-addressing table of numbers, so
 * millions of chunks cost no string, no Map entry and no heap object each:
 * about 40 bytes a chunk instead of about 125, and nothing for the GC to
 * trace. Any other id (upper case, other lengths) goes to an ordinary Map;
 * the two never overlap, since whether an id is hex is a property of the string.
 */
export class ChunkIdTable {
  /** WORDS words per number; left zero for ids kept in `other`. */
  private words: Int32Array = new Int32Array(WORDS * 1024);
  /** Open addressing, linear probing: number + 1, or 0 for an empty slot. Power-of-two length. */
  private slots: Int32Array = new Int32Array(2048);
  private hexCount = 0;
  private count = 0;
  private readonly other = new Map<string, number>();
  private readonly otherIds = new Map<number, string>();
  /** The id being looked up, decoded: reused, so a lookup allocates nothing. */
  private readonly key = new Int32Array(WORDS);
  /** Scratch for idOf(): the id's 32 bytes, big-endian per word, hex-encoded natively. */
  private readonly bytes = Buffer.alloc(WORDS * 4);

  /** How many ids have numbers. */
  get size(): number {
    return this.count;
  }

  /** The number of an id, or -1 if it has none. */
  find(id: string): number {
    if (!this.decode(id)) return this.other.get(id) ?? -1;
    const s = this.probe();
    return s < 0 ? -1 : this.slots[s] - 1;
  }

  /** The number of an id, the next free one if the id is new. */
  intern(id: string): number {
    if (!this.decode(id)) {
      let k = this.other.get(id);
      if (k === undefined) {
        k = this.count++;
        this.other.set(id, k);
        this.otherIds.set(k, id);
      }
      return k;
    }
    const s = this.probe();
    if (s >= 0) return this.slots[s] - 1;
    const k = this.count++;
    if ((k + 1) * WORDS > this.words.length) this.words = grow(this.words, (k + 1) * WORDS);
    this.words.set(this.key, k * WORDS);
    this.slots[-s - 1] = k + 1;
    // Keep the table at most half full, so probes stay short.
    if (++this.hexCount * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return k;
  }

  /** The id of a number. */
  idOf(k: number): string {
    const other = this.otherIds.get(k);
    if (other !== undefined) return other;
    const bytes = this.bytes;
    for (let w = 0; w < WORDS; w++) {
      const v = this.words[k * WORDS + w];
      bytes[w * 4] = v >>> 24;
      bytes[w * 4 + 1] = v >>> 16;
      bytes[w * 4 + 2] = v >>> 8;
      bytes[w * 4 + 3] = v;
    }
    return bytes.toString("hex");
  }

  /** Decodes a 64-hex-digit id into `key`; false for any other id. */
  private decode(id: string): boolean {
    if (id.length !== WORDS * 8) return false;
    for (let w = 0; w < WORDS; w++) {
      let v = 0;
      for (let c = w * 8, end = c + 8; c < end; c++) {
        const code = id.charCodeAt(c);
        const d = code < 128 ? NIBBLE[code] : -1;
        if (d < 0) return false;
        v = (v << 4) | d;
      }
      this.key[w] = v;
    }
    return true;
  }

  /** The slot holding `key`, or -(free slot + 1) where it would go. */
  private probe(): number {
    const mask = this.slots.length - 1;
    const key = this.key;
    const words = this.words;
    for (let s = hashWords(key, 0) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s];
      if (e === 0) return -s - 1;
      const base = (e - 1) * WORDS;
      if (
        words[base] === key[0] && words[base + 1] === key[1] && words[base + 2] === key[2] && words[base + 3] === key[3] &&
        words[base + 4] === key[4] && words[base + 5] === key[5] && words[base + 6] === key[6] && words[base + 7] === key[7]
      ) {
        return s;
      }
    }
  }

  private rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let k = 0; k < this.count; k++) {
      if (this.otherIds.has(k)) continue;
      let s = hashWords(this.words, k * WORDS) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = k + 1;
    }
    this.slots = slots;
  }
}

/** MurmurHash3's mixing over all eight words: ids need not be hashes, and may share long prefixes or suffixes. */
function hashWords(a: Int32Array, base: number): number {
  let h = 0x9747b28c;
  for (let w = 0; w < WORDS; w++) {
    let k = Math.imul(a[base + w], 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A copy at least `min` long, grown by half again, so repeated growth stays amortised O(1). */
function grow(a: Int32Array, min: number): Int32Array {
  const next = new Int32Array(Math.max(min, Math.ceil(a.length * 1.5)));
  next.set(a);
  return next;
}
