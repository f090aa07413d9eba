import { describe, expect, it } from "vitest";
import { ChunkIndex } from "../../src/chunks/chunk-index.js";
import fc from "fast-check";
import { planReplication, type ChunkNode, type ChunkState } from "../../src/chunks/replication-planner.js";

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

  it("forgets every location and node on clear (a new chunk owner), keeping targets, and fills again from reports", () => {
    const idx = new ChunkIndex(2);
    idx.setTarget("c1", 3);
    idx.fullReport("a", [{ id: "c1", size: 100 }, { id: "c2", size: 50 }]);
    idx.fullReport("b", [{ id: "c1" }]);
    idx.clear();
    expect(idx.stats()).toEqual({ chunks: 0, locations: 0, bytes: 0 });
    expect(idx.locate(["c1", "c2"])).toEqual([[], []]);
    expect(idx.knows("a")).toBe(false);
    // Chunks nobody has reported again are unknown, not lost: nothing to replicate.
    expect(idx.misreplicatedNow()).toEqual({ chunks: [], under: 0, over: 0, zero: 0 });
    idx.fullReport("b", [{ id: "c1" }]);
    expect(idx.locate(["c1", "c2"])).toEqual([["b"], []]);
    expect(idx.targetOf("c1")).toBe(3);
    expect(idx.misreplicatedNow().under).toBe(1);
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
  const node = (id: string, over: Partial<ChunkNode> = {}): ChunkNode => ({ id, online: true, eligible: true, zone: id[0], freeMb: Infinity, ...over });
  const nodes = [node("a1"), node("a2"), node("b1"), node("b2", { online: false })];
  const base = { nodes, pending: new Set<string>(), perNodeLimit: 10, load: () => 0 };
  const chunk = (over: Partial<ChunkState>): ChunkState => ({ id: "c", size: 1 << 20, holders: ["a1"], target: 2, ...over });
  const MiB = 1 << 20;

  it.each([
    ["copies to another zone", nodes, [chunk({})], [{ action: "replicate", chunkId: "c", nodeId: "b1", sourceNodeId: "a1", targetNodeId: "b1", priority: 1 }]],
    ["skips chunks with a command under way", nodes, [chunk({ id: "busy" })], []],
    ["cannot copy a chunk with no online holder", nodes, [chunk({ holders: ["b2"] })], []],
    ["evicts from the most crowded zone", nodes, [chunk({ holders: ["a1", "a2", "b1"] })], [{ action: "evict", chunkId: "c", nodeId: "a1", sourceNodeId: "a1", targetNodeId: "a1", priority: 0 }]],
    ["leaves chunks at target alone", nodes, [chunk({ holders: ["a1", "b1"] })], []],
    [
      // Issue 18: crowding ranked once sent both evictions to zone a and emptied it.
      "re-ranks after each eviction: two evictions never empty zone a while zone c keeps two",
      [node("a1"), node("a2"), node("b1"), node("c1"), node("c2")],
      [chunk({ holders: ["a1", "a2", "b1", "c1", "c2"], target: 3 })],
      [
        { action: "evict", chunkId: "c", nodeId: "a1", sourceNodeId: "a1", targetNodeId: "a1", priority: 0 },
        { action: "evict", chunkId: "c", nodeId: "c1", sourceNodeId: "c1", targetNodeId: "c1", priority: 0 },
      ],
    ],
    [
      "waits rather than evict the last copy of a zone while another zone holds two (its holders are busy)",
      [node("a1"), node("b1"), node("c1", { online: false }), node("c2", { online: false })],
      [chunk({ holders: ["a1", "b1", "c1", "c2"], target: 3 })],
      [],
    ],
    [
      // Issue 18: a 5,000 MiB chunk went to a node whose heartbeats said 100 MiB free.
      "never sends a copy to a node without the disk for it",
      [node("a1"), node("b1", { freeMb: 100 }), node("b2", { freeMb: 1000 }), node("c1", { freeMb: 6000 })],
      [chunk({ size: 5000 * MiB })],
      [{ action: "replicate", chunkId: "c", nodeId: "c1", sourceNodeId: "a1", targetNodeId: "c1", priority: 1 }],
    ],
    [
      "counts the disk this round already sends a node",
      [node("a1"), node("b1", { freeMb: 1500 })],
      [chunk({ id: "x", size: 1000 * MiB }), chunk({ id: "y", size: 1000 * MiB })],
      [{ action: "replicate", chunkId: "x", nodeId: "b1", sourceNodeId: "a1", targetNodeId: "b1", priority: 1 }],
    ],
  ])("%s", (_name, clusterNodes, chunks, expected) => {
    expect(planReplication({ ...base, nodes: clusterNodes, pending: new Set(["busy"]), chunks })).toEqual(expected);
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

describe("planReplication properties (random clusters and chunks)", () => {
  const clusterArb = fc.uniqueArray(
    fc.record({
      id: fc.stringMatching(/^[a-z][0-9]$/),
      online: fc.integer({ min: 0, max: 9 }).map((x) => x < 8),
      eligible: fc.integer({ min: 0, max: 9 }).map((x) => x < 9),
      zone: fc.constantFrom("a", "b", "c", ""),
      freeMb: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 5000 })),
    }),
    { minLength: 1, maxLength: 10, selector: (n) => n.id },
  );
  const inputArb = clusterArb.chain((nodes) =>
    fc.record({
      nodes: fc.constant(nodes),
      chunks: fc.uniqueArray(
        fc.record({
          id: fc.stringMatching(/^c[0-9]{1,2}$/),
          size: fc.integer({ min: 0, max: 3000 }).map((mb) => mb * 1048576),
          holders: fc.subarray(nodes.map((n) => n.id)),
          target: fc.integer({ min: 1, max: 5 }),
        }),
        { maxLength: 8, selector: (c) => c.id },
      ),
      perNodeLimit: fc.integer({ min: 1, max: 4 }),
      loads: fc.dictionary(fc.constantFrom(...nodes.map((n) => n.id)), fc.integer({ min: 0, max: 5 })),
    }),
  );

  it("never targets a node without the disk, a holder, or an offline or ineligible node; never exceeds the per-node limit", () => {
    fc.assert(
      fc.property(inputArb, ({ nodes, chunks, perNodeLimit, loads }) => {
        const cmds = planReplication({ nodes, chunks, pending: new Set(), perNodeLimit, load: (id) => loads[id] ?? 0 });
        const byId = new Map(nodes.map((n) => [n.id, n]));
        const sent = new Map<string, number>();
        const perNode = new Map<string, number>();
        for (const c of cmds) {
          for (const n of new Set([c.nodeId, c.sourceNodeId])) perNode.set(n, (perNode.get(n) ?? 0) + 1);
          if (c.action !== "replicate") continue;
          const chunk = chunks.find((x) => x.id === c.chunkId)!;
          const target = byId.get(c.targetNodeId)!;
          expect(chunk.holders).not.toContain(c.targetNodeId);
          expect(target.online && target.eligible).toBe(true);
          expect(byId.get(c.sourceNodeId)?.online).toBe(true);
          sent.set(target.id, (sent.get(target.id) ?? 0) + chunk.size / 1048576);
        }
        for (const [id, mb] of sent) expect(mb).toBeLessThanOrEqual(byId.get(id)!.freeMb);
        for (const count of perNode.values()) expect(count).toBeLessThanOrEqual(perNodeLimit);
      }),
      { numRuns: 250 },
    );
  });

  it("never empties a zone of a chunk while another zone holds two or more copies of it", () => {
    fc.assert(
      fc.property(inputArb, ({ nodes, chunks, perNodeLimit, loads }) => {
        const cmds = planReplication({ nodes, chunks, pending: new Set(), perNodeLimit, load: (id) => loads[id] ?? 0 });
        const zone = new Map(nodes.map((n) => [n.id, n.zone]));
        for (const c of chunks) {
          const after = new Set(c.holders);
          for (const cmd of cmds.filter((x) => x.chunkId === c.id)) {
            if (cmd.action === "evict") after.delete(cmd.nodeId);
            else after.add(cmd.targetNodeId);
          }
          const count = (ids: Iterable<string>) => {
            const m = new Map<string, number>();
            for (const id of ids) m.set(zone.get(id) ?? "", (m.get(zone.get(id) ?? "") ?? 0) + 1);
            return m;
          };
          const before = count(c.holders);
          const now = count(after);
          const emptied = [...before.keys()].filter((z) => !now.has(z));
          if (emptied.length) expect(Math.max(0, ...now.values())).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 250 },
    );
  });
});
