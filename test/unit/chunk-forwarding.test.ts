import { describe, expect, it } from "vitest";
import { ForwardingChunkIndex, type ChunkOwnerView } from "../../src/managers/chunk-forwarding.js";
import type { ChunkCaller, ChunkEntry, ChunkIndexPort, ChunkMetrics, ChunkOwnerClient, Location } from "../../src/model/chunk-index-port.js";
import { InvalidArgumentError, UnavailableError } from "../../src/model/errors.js";
import type { Node } from "../../src/model/node.js";

const METRICS: ChunkMetrics = {
  totalNodes: 1, activeNodes: 1, offlineNodes: 0, totalChunks: 2, totalReplicas: 2, totalBytes: 0, cacheHitRate: 0, underReplicated: 0, overReplicated: 0, zeroReplicated: 0, pendingCommands: 0,
};
const operator: ChunkCaller = { principal: { kind: "operator", tokenId: "t1", name: "ci", scope: "write" }, address: "10.0.0.9", forwarded: false };

/** A local index that records what reached it. */
class LocalIndex implements ChunkIndexPort {
  readonly calls: string[] = [];
  report(nodeId: string): Promise<void> {
    this.calls.push(`report ${nodeId}`);
    return Promise.resolve();
  }
  reportFull(_c: ChunkCaller, nodeId: string, chunks: ChunkEntry[]): number {
    this.calls.push(`full ${nodeId}`);
    return chunks.length;
  }
  reportUpdate(_c: ChunkCaller, nodeId: string): number {
    this.calls.push(`update ${nodeId}`);
    return 0;
  }
  lookup(_c: ChunkCaller, ids: readonly string[]): Location[] {
    this.calls.push(`lookup ${ids.join(",")}`);
    return ids.map((chunkId) => ({ chunkId, peerIds: [], holders: [], sizeBytes: 0 }));
  }
  clusterMetrics(): ChunkMetrics {
    return METRICS;
  }
  nodeChunks(_c: ChunkCaller, ids: readonly string[]) {
    return ids.map((nodeId) => ({ nodeId, ids: [], total: 0 }));
  }
}

/** The owner's replies, per address: an answer, or a failure. */
class OwnerClient implements ChunkOwnerClient {
  readonly calls: Array<{ owner: string; what: string; caller: ChunkCaller }> = [];
  constructor(private readonly fails: Map<string, Error> = new Map()) {}
  private call<T>(owner: string, what: string, caller: ChunkCaller, out: T): Promise<T> {
    this.calls.push({ owner, what, caller });
    const err = this.fails.get(owner);
    return err ? Promise.reject(err) : Promise.resolve(out);
  }
  reportFull(owner: string, caller: ChunkCaller, nodeId: string, chunks: ChunkEntry[]) {
    return this.call(owner, `full ${nodeId}`, caller, chunks.length);
  }
  reportUpdate(owner: string, caller: ChunkCaller, nodeId: string) {
    return this.call(owner, `update ${nodeId}`, caller, 7);
  }
  lookup(owner: string, caller: ChunkCaller, ids: readonly string[]) {
    return this.call(owner, `lookup ${ids.join(",")}`, caller, ids.map((chunkId) => ({ chunkId, peerIds: ["n1", "gone"], sizeBytes: 42 })));
  }
  clusterMetrics(owner: string, caller: ChunkCaller) {
    return this.call(owner, "metrics", caller, METRICS);
  }
  nodeChunks(owner: string, caller: ChunkCaller, ids: readonly string[], limit: number) {
    return this.call(owner, `nodes ${ids.join(",")} ${limit}`, caller, ids.map((nodeId) => ({ nodeId, ids: ["c1"], total: 1 })));
  }
}

/** Who owns the index, changing on refresh as scripted. */
class Owner implements ChunkOwnerView {
  refreshes = 0;
  constructor(
    private owner: boolean,
    private address: string | undefined,
    private readonly afterRefresh: { owner?: boolean; address?: string } = {},
  ) {}
  isOwner() {
    return this.owner;
  }
  ownerAddress() {
    return this.owner ? undefined : this.address;
  }
  refresh() {
    this.refreshes++;
    if (this.afterRefresh.owner !== undefined) this.owner = this.afterRefresh.owner;
    if (this.afterRefresh.address !== undefined) this.address = this.afterRefresh.address;
    return Promise.resolve();
  }
}

const n1 = { id: "n1", address: "10.0.0.1" } as Node;
const nodes = { get: (id: string) => (id === "n1" ? n1 : undefined) };

describe("the forwarding chunk index", () => {
  it("answers from the local index while this replica owns it, synchronously, and calls nobody", () => {
    const local = new LocalIndex();
    const client = new OwnerClient();
    const port = new ForwardingChunkIndex(local, new Owner(true, undefined), client, nodes);
    expect(port.reportFull(operator, "n1", [{ id: "c1", size: 1 }])).toBe(1);
    const found = port.lookup(operator, ["c1"]);
    expect(Array.isArray(found)).toBe(true);
    expect(local.calls).toEqual(["full n1", "lookup c1"]);
    expect(client.calls).toEqual([]);
  });

  it("forwards to the owner with the original caller, and fills holders from its own view of the nodes", async () => {
    const local = new LocalIndex();
    const client = new OwnerClient();
    const port = new ForwardingChunkIndex(local, new Owner(false, "http://owner:8080"), client, nodes);
    expect(await port.reportUpdate(operator, "n1", [], ["c9"])).toBe(7);
    const [l] = await port.lookup(operator, ["c1"]);
    // A holder this replica does not know (yet) is named but not described.
    expect(l.peerIds).toEqual(["n1", "gone"]);
    expect(l.holders).toEqual([n1]);
    expect(l.sizeBytes).toBe(42);
    expect(await port.clusterMetrics(operator)).toEqual(METRICS);
    expect(await port.nodeChunks(operator, ["n1"], 100)).toEqual([{ nodeId: "n1", ids: ["c1"], total: 1 }]);
    expect(client.calls.map((c) => [c.owner, c.what, c.caller])).toEqual([
      ["http://owner:8080", "update n1", operator],
      ["http://owner:8080", "lookup c1", operator],
      ["http://owner:8080", "metrics", operator],
      ["http://owner:8080", "nodes n1 100", operator],
    ]);
    expect(local.calls).toEqual([]);
  });

  it("forwards an agent stream's report as the node itself", async () => {
    const client = new OwnerClient();
    const port = new ForwardingChunkIndex(new LocalIndex(), new Owner(false, "http://owner:8080"), client, nodes);
    await port.report("n1", { full: true, chunks: [{ chunkId: "c1", sizeBytes: 5, metadata: {} }], removedChunkIds: [] });
    expect(client.calls[0]).toEqual({ owner: "http://owner:8080", what: "full n1", caller: { principal: { kind: "node", nodeId: "n1" }, address: "", forwarded: false } });
  });

  it("never forwards a forwarded call again: a replica that no longer owns the index answers Unavailable", () => {
    const client = new OwnerClient();
    const port = new ForwardingChunkIndex(new LocalIndex(), new Owner(false, "http://other:8080"), client, nodes);
    expect(() => port.lookup({ ...operator, forwarded: true }, ["c1"])).toThrow(UnavailableError);
    expect(client.calls).toEqual([]);
  });

  it("retries once at the new owner when the old one could not answer", async () => {
    const client = new OwnerClient(new Map([["http://old:8080", new UnavailableError("gone")]]));
    const owner = new Owner(false, "http://old:8080", { address: "http://new:8080" });
    const port = new ForwardingChunkIndex(new LocalIndex(), owner, client, nodes);
    expect(await port.reportFull(operator, "n1", [{ id: "c1", size: 0 }])).toBe(1);
    expect(client.calls.map((c) => c.owner)).toEqual(["http://old:8080", "http://new:8080"]);
    expect(owner.refreshes).toBe(1);
  });

  it("answers locally when it finds itself the new owner after a failed forward", async () => {
    const local = new LocalIndex();
    const client = new OwnerClient(new Map([["http://old:8080", new UnavailableError("gone")]]));
    const port = new ForwardingChunkIndex(local, new Owner(false, "http://old:8080", { owner: true }), client, nodes);
    expect(await port.reportFull(operator, "n1", [])).toBe(0);
    expect(local.calls).toEqual(["full n1"]);
  });

  it.each([
    ["the same owner is still named", new Map([["http://old:8080", new UnavailableError("gone")]]), { address: "http://old:8080" }, 1],
    ["the new owner fails too", new Map([["http://old:8080", new UnavailableError("gone")], ["http://new:8080", new UnavailableError("also gone")]]), { address: "http://new:8080" }, 2],
  ])("gives up with Unavailable, never looping, when %s", async (_what, fails, after, calls) => {
    const client = new OwnerClient(fails);
    const port = new ForwardingChunkIndex(new LocalIndex(), new Owner(false, "http://old:8080", after), client, nodes);
    await expect(port.clusterMetrics(operator)).rejects.toBeInstanceOf(UnavailableError);
    expect(client.calls).toHaveLength(calls);
  });

  it("passes the owner's other answers on without retrying (they are the caller's to see)", async () => {
    const client = new OwnerClient(new Map([["http://owner:8080", new InvalidArgumentError("chunks[0]", "bad id")]]));
    const port = new ForwardingChunkIndex(new LocalIndex(), new Owner(false, "http://owner:8080", { address: "http://new:8080" }), client, nodes);
    await expect(port.reportFull(operator, "n1", [])).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(client.calls).toHaveLength(1);
  });

  it("answers Unavailable with a retry hint while no replica owns the index", async () => {
    const port = new ForwardingChunkIndex(new LocalIndex(), new Owner(false, undefined), new OwnerClient(), nodes);
    const err = await Promise.resolve(port.lookup(operator, ["c1"])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).retryAfterSeconds).toBe(1);
  });
});
