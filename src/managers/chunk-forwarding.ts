import { nodeCaller, type ChunkCaller, type ChunkEntry, type ChunkIndexPort, type ChunkMetrics, type ChunkOwnerClient, type Location, type NodeChunks } from "../model/chunk-index-port.js";
import type { ChunkReportInput } from "../model/chunk-report.js";
import { UnavailableError } from "../model/errors.js";
import type { Node } from "../model/node.js";

/** Who owns the chunk index, as this replica knows it (ChunkOwnerLocator). */
export interface ChunkOwnerView {
  /** Whether this replica owns the index now (it holds the leader lease). */
  isOwner(): boolean;
  /** The owner's ADVERTISE_URL, when another replica owns it and its row says where. */
  ownerAddress(): string | undefined;
  /** Reads the lease and the membership rows again (after a failed forward). */
  refresh(): Promise<void>;
}

/** Seconds a caller is told to wait when no replica owns the index (a leader is being chosen). */
const RETRY_AFTER_SECONDS = 1;

/**
 * The chunk index on a replica of several: calls are answered by the local
 * index while this replica owns it, and forwarded to the owner otherwise,
 * with the caller's principal (the owner's guard checks it again). A call
 * that was itself forwarded is never forwarded again: a replica that is no
 * longer the owner answers it Unavailable, and the forwarding replica looks
 * the owner up again and retries once. Holders in forwarded lookups are this
 * replica's own views of the nodes (the same rows, through the change feed).
 */
export class ForwardingChunkIndex implements ChunkIndexPort {
  constructor(
    private readonly local: ChunkIndexPort,
    private readonly owner: ChunkOwnerView,
    private readonly client: ChunkOwnerClient,
    private readonly nodes: { get(id: string): Node | undefined },
  ) {}

  async report(nodeId: string, r: ChunkReportInput): Promise<void> {
    const chunks = r.chunks.map((c) => ({ id: c.chunkId, size: c.sizeBytes }));
    const caller = nodeCaller(nodeId);
    if (r.full) await this.reportFull(caller, nodeId, chunks);
    else await this.reportUpdate(caller, nodeId, chunks, r.removedChunkIds);
  }

  reportFull(caller: ChunkCaller, nodeId: string, chunks: ChunkEntry[]): number | Promise<number> {
    return this.route(caller, () => this.local.reportFull(caller, nodeId, chunks), (at) => this.client.reportFull(at, caller, nodeId, chunks));
  }

  reportUpdate(caller: ChunkCaller, nodeId: string, added: ChunkEntry[], removed: string[]): number | Promise<number> {
    return this.route(caller, () => this.local.reportUpdate(caller, nodeId, added, removed), (at) => this.client.reportUpdate(at, caller, nodeId, added, removed));
  }

  lookup(caller: ChunkCaller, chunkIds: readonly string[]): Location[] | Promise<Location[]> {
    return this.route(
      caller,
      () => this.local.lookup(caller, chunkIds),
      async (at) =>
        (await this.client.lookup(at, caller, chunkIds)).map((l) => ({
          chunkId: l.chunkId,
          peerIds: l.peerIds,
          holders: l.peerIds.map((id) => this.nodes.get(id)).filter((n): n is Node => n !== undefined),
          sizeBytes: l.sizeBytes,
        })),
    );
  }

  clusterMetrics(caller: ChunkCaller): ChunkMetrics | Promise<ChunkMetrics> {
    return this.route(caller, () => this.local.clusterMetrics(caller), (at) => this.client.clusterMetrics(at, caller));
  }

  nodeChunks(caller: ChunkCaller, nodeIds: readonly string[], limit: number): NodeChunks[] | Promise<NodeChunks[]> {
    return this.route(caller, () => this.local.nodeChunks(caller, nodeIds, limit), (at) => this.client.nodeChunks(at, caller, nodeIds, limit));
  }

  private route<T>(caller: ChunkCaller, local: () => T | Promise<T>, remote: (owner: string) => Promise<T>): T | Promise<T> {
    if (this.owner.isOwner()) return local();
    if (caller.forwarded) throw new UnavailableError("this replica does not own the chunk index (the owner changed); retry", RETRY_AFTER_SECONDS);
    return this.forward(local, remote);
  }

  private async forward<T>(local: () => T | Promise<T>, remote: (owner: string) => Promise<T>): Promise<T> {
    let at = this.owner.ownerAddress();
    if (at === undefined) {
      await this.owner.refresh();
      if (this.owner.isOwner()) return local();
      at = this.owner.ownerAddress();
    }
    if (at === undefined) throw noOwner();
    try {
      return await remote(at);
    } catch (err) {
      // Only a call that could not be answered is retried (the owner died, or no longer owns): once, at the owner found now.
      if (!(err instanceof UnavailableError)) throw err;
      await this.owner.refresh();
      if (this.owner.isOwner()) return local();
      const next = this.owner.ownerAddress();
      if (next === undefined || next === at) throw err;
      return remote(next);
    }
  }
}

function noOwner(): UnavailableError {
  return new UnavailableError("no replica owns the chunk index right now (a leader is being chosen); retry", RETRY_AFTER_SECONDS);
}
