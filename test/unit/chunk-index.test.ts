import { describe, expect, it } from "vitest";
import { ChunkIndex } from "../../src/chunks/chunk-index.js";
import { planReplication, type ChunkState } from "../../src/chunks/replication-planner.js";
import { snap } from "../fakes/snapshots.js";

describe("ChunkIndex", () => {
  it("replaces a node's chunks on a full report and keeps counts", () => {
    const idx = new ChunkIndex(2);
    idx.fullReport("a", [{ id: "c1", size: 100 }, { id: "c2", size: 50 }, { id: "c1" }]);
    idx.fullReport("b", [{ id: "c1" }]);
    expect(idx.stats()).toEqual({ chunks: 2, locations: 3, bytes: 150 });
    idx.fullReport("a", [{ id: "c3", size: 10 }]);
    expect(idx.stats()).toEqual({ chunks: 2, locations: 2, bytes: 110 });
    expect(idx.locate(["c1", "c2", "c3", "nope"])).toEqual([["b"], [], ["a"], []]);
  });

  it("applies incremental adds and removes", () => {
    const idx = new ChunkIndex();
    idx.update("a", [{ id: "x" }, { id: "y" }], []);
    idx.update("a", [{ id: "z" }], ["x", "never-had"]);
    expect(idx.countOf("a")).toBe(2);
    expect(idx.locate(["x", "y", "z"])).toEqual([[], ["a"], ["a"]]);
  });

  it("hides offline nodes from queries but keeps them as replicas until dropped", () => {
    const idx = new ChunkIndex(2);
    idx.fullReport("a", [{ id: "c" }]);
    idx.fullReport("b", [{ id: "c" }]);
    idx.misreplicatedNow();
    idx.setOnline("b", false);
    expect(idx.locate(["c"])).toEqual([["a"]]);
    expect(idx.misreplicatedNow().chunks).toEqual([]);
    idx.dropNode("b");
    expect(idx.misreplicatedNow()).toMatchObject({ under: 1, over: 0, chunks: [{ id: "c", holders: ["a"], target: 2 }] });
  });

  it("orders holders by preference, then id", () => {
    const idx = new ChunkIndex();
    for (const n of ["c", "a", "b"]) idx.fullReport(n, [{ id: "k" }]);
    expect(idx.locate(["k"], (id) => (id === "a" ? 5 : 0))).toEqual([["b", "c", "a"]]);
  });

  it("honours per-chunk targets and counts chunks with no online replica", () => {
    const idx = new ChunkIndex(3);
    idx.fullReport("a", [{ id: "c" }]);
    idx.setTarget("c", 1);
    expect(idx.misreplicatedNow().chunks).toEqual([]);
    idx.setOnline("a", false);
    idx.setTarget("c", 2);
    expect(idx.misreplicatedNow()).toMatchObject({ under: 1, zero: 1 });
  });

  it("interns 64-hex ids compactly without confusing them with other spellings", () => {
    const idx = new ChunkIndex(1);
    const hex = (j: number) => j.toString(16).padStart(8, "0") + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15";
    // Enough ids to grow and rehash the table several times.
    idx.fullReport("a", Array.from({ length: 5000 }, (_, j) => ({ id: hex(j), size: 1 })));
    const upper = hex(7).toUpperCase();
    idx.fullReport("b", [{ id: upper }, { id: hex(7) }, { id: `${hex(8)}0` }]);
    expect(idx.stats()).toEqual({ chunks: 5002, locations: 5003, bytes: 5000 });
    expect(idx.locate([hex(0), hex(4999), hex(7), upper, `${hex(8)}0`, hex(5000)])).toEqual([["a"], ["a"], ["a", "b"], ["b"], ["b"], []]);
    expect(idx.holdersOf(hex(7))).toEqual(["a", "b"]);
    expect(idx.misreplicatedNow().chunks).toEqual([{ id: hex(7), size: 1, holders: ["a", "b"], target: 1 }]);
  });

  it("keeps more holders than usual, in the order they came, through removals", () => {
    const idx = new ChunkIndex(3);
    for (const n of ["n1", "n2", "n3", "n4", "n5"]) idx.update(n, [{ id: "k" }], []);
    expect(idx.holdersOf("k")).toEqual(["n1", "n2", "n3", "n4", "n5"]);
    idx.update("n2", [], ["k"]);
    idx.update("n5", [], ["k"]);
    expect(idx.holdersOf("k")).toEqual(["n1", "n3", "n4"]);
    idx.dropNode("n1");
    idx.fullReport("n6", [{ id: "k" }]);
    expect(idx.holdersOf("k")).toEqual(["n3", "n4", "n6"]);
    expect(idx.stats()).toMatchObject({ chunks: 1, locations: 3 });
    expect(idx.misreplicatedNow().chunks).toEqual([]);
  });
});

describe("planReplication", () => {
  const nodes = [snap("a1", { labels: { zone: "a" } }), snap("a2", { labels: { zone: "a" } }), snap("b1", { labels: { zone: "b" } }), snap("b2", { labels: { zone: "b" }, online: false })];
  const base = { nodes, pending: new Set<string>(), perNodeLimit: 10, spreadLabel: "zone", load: () => 0 };
  const chunk = (over: Partial<ChunkState>): ChunkState => ({ id: "c", size: 1 << 20, holders: ["a1"], target: 2, ...over });

  it.each([
    ["copies to another zone", [chunk({})], [{ action: "replicate", chunkId: "c", nodeId: "b1", sourceNodeId: "a1", targetNodeId: "b1", priority: 1 }]],
    ["skips chunks with a command under way", [chunk({ id: "busy" })], []],
    ["cannot copy a chunk with no online holder", [chunk({ holders: ["b2"] })], []],
    ["evicts from the most crowded zone", [chunk({ holders: ["a1", "a2", "b1"] })], [{ action: "evict", chunkId: "c", nodeId: "a1", sourceNodeId: "a1", targetNodeId: "a1", priority: 0 }]],
    ["leaves chunks at target alone", [chunk({ holders: ["a1", "b1"] })], []],
  ])("%s", (_name, chunks, expected) => {
    expect(planReplication({ ...base, pending: new Set(["busy"]), chunks })).toEqual(expected);
  });

  it("never gives one node more than the per-node limit in a round", () => {
    const many = Array.from({ length: 20 }, (_, i) => chunk({ id: `c${i}`, holders: ["a1"] }));
    const cmds = planReplication({ ...base, chunks: many, perNodeLimit: 3 });
    const perNode = new Map<string, number>();
    for (const c of cmds) for (const n of new Set([c.nodeId, c.sourceNodeId])) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    expect(Math.max(...perNode.values())).toBeLessThanOrEqual(3);
    expect(cmds.length).toBe(3);
  });
});
