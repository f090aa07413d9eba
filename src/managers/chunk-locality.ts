import type { ChunkCaller, ChunkIndexPort } from "../model/chunk-index-port.js";
import type { ChunkLocalityView } from "../orchestrator/snapshot.js";

/** How long a chunk's location fetched from the owner is used for placement. */
const FRESH_MS = 5_000;
/** Beyond this many fetched chunks, the oldest are forgotten first. */
const MAX_FETCHED = 100_000;

interface Fetched {
  readonly size: number;
  readonly holders: readonly string[];
  readonly at: number;
}

/**
 * Chunk-aware placement's view of the index on a replica of several. The
 * owner reads its own index. Another replica asks the owner, before it
 * places work that lists chunk ids (`prepare`, with the caller's principal),
 * for those chunks' sizes and holders, and answers the placer's synchronous
 * questions from what came back (for a few seconds): the placer stays pure
 * and synchronous, and only requests that name chunks pay a call.
 */
export class ChunkLocality implements ChunkLocalityView {
  private readonly fetched = new Map<string, Fetched>();

  constructor(
    private readonly local: ChunkLocalityView,
    private readonly port: Pick<ChunkIndexPort, "lookup">,
    private readonly isOwner: () => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  chunkLocation(chunkId: string): { size: number; holders: readonly string[] } | undefined {
    if (this.isOwner()) return this.local.chunkLocation(chunkId);
    const f = this.fetched.get(chunkId);
    return f && this.now() - f.at < FRESH_MS ? f : undefined;
  }

  /** Fetches the listed chunks' locations from the owner (nothing to do on the owner, or for no chunks). */
  async prepare(caller: ChunkCaller, chunkIds: readonly string[] | undefined): Promise<void> {
    if (!chunkIds || chunkIds.length === 0 || this.isOwner()) return;
    const found = await this.port.lookup(caller, chunkIds);
    const at = this.now();
    if (this.fetched.size + found.length > MAX_FETCHED) this.forgetOldest(found.length);
    for (const l of found) {
      // An unknown chunk (no size, no holder) is what the local index calls undefined.
      if (l.sizeBytes === 0 && l.peerIds.length === 0) this.fetched.delete(l.chunkId);
      else {
        this.fetched.delete(l.chunkId);
        this.fetched.set(l.chunkId, { size: l.sizeBytes, holders: l.peerIds, at });
      }
    }
  }

  private forgetOldest(room: number): void {
    // A Map iterates in insertion order, and each fetch re-inserts: the first are the oldest.
    let drop = this.fetched.size + room - MAX_FETCHED;
    for (const id of this.fetched.keys()) {
      if (drop-- <= 0) break;
      this.fetched.delete(id);
    }
  }
}
