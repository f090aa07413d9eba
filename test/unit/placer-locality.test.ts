import { describe, expect, it } from "vitest";
import type { PlacementStrategy } from "../../src/model/placement.js";
import { formatBytes } from "../../src/orchestrator/locality.js";
import { Placer } from "../../src/orchestrator/placer.js";
import type { ChunkLocalityView, NodeSnapshot } from "../../src/orchestrator/snapshot.js";
import { reqs, snap } from "../fakes/snapshots.js";

const GiB = 1024 ** 3;

/** A chunk view from a literal table: id → size and holders. */
function view(table: Record<string, { size: number; holders: string[] }>): ChunkLocalityView {
  return { chunkLocation: (id) => table[id] };
}

const chunks = view({
  big: { size: 3 * GiB, holders: ["b"] },
  small: { size: 1 * GiB, holders: ["c", "b"] },
  tiny: { size: 0.2 * GiB, holders: ["c"] },
});

const half = { cpu: 2, memoryMb: 4096, diskMb: 0, gpus: 0 };

describe("chunk-aware placement", () => {
  const cases: Array<{
    name: string;
    strategy: PlacementStrategy | undefined;
    nodes: NodeSnapshot[];
    chunkIds: string[];
    locality?: number;
    count?: number;
    avoid?: string[];
    want: string[];
  }> = [
    { name: "spread: the node holding the most wanted bytes, though another is emptier", strategy: "spread", nodes: [snap("a"), snap("b", { used: half }), snap("c")], chunkIds: ["big", "small"], want: ["b"] },
    { name: "spread: a small weight lets emptiness win over a few bytes", strategy: "spread", nodes: [snap("a"), snap("b", { used: half }), snap("c")], chunkIds: ["big"], locality: 0.1, want: ["a"] },
    { name: "spread: never a second replica on a holder while a node has none", strategy: "spread", nodes: [snap("a"), snap("b"), snap("c")], chunkIds: ["big", "small"], count: 3, want: ["b", "c", "a"] },
    { name: "binpack: the holder, though another node is fuller", strategy: "binpack", nodes: [snap("a", { used: half }), snap("b"), snap("c")], chunkIds: ["big"], want: ["b"] },
    { name: "round_robin: the holder with the most bytes before the node in turn", strategy: undefined, nodes: [snap("a"), snap("b"), snap("c")], chunkIds: ["small", "tiny"], want: ["c"] },
    { name: "round_robin: back to turn order once every holder has a replica", strategy: "round_robin", nodes: [snap("a"), snap("b"), snap("c")], chunkIds: ["big"], count: 3, want: ["b", "c", "a"] },
    { name: "a holder that does not fit is passed over", strategy: "spread", nodes: [snap("a"), snap("b", { used: { cpu: 4, memoryMb: 0, diskMb: 0, gpus: 0 } }), snap("c")], chunkIds: ["big", "small", "tiny"], want: ["c"] },
    { name: "an avoided holder is passed over", strategy: "spread", nodes: [snap("a"), snap("b"), snap("c")], chunkIds: ["big"], avoid: ["b"], want: ["a"] },
    { name: "an offline holder is passed over", strategy: "spread", nodes: [snap("a"), snap("b", { online: false }), snap("c")], chunkIds: ["big", "small"], want: ["c"] },
    { name: "unknown chunks change nothing", strategy: "spread", nodes: [snap("a"), snap("b", { used: half }), snap("c")], chunkIds: ["nobody-has-it"], want: ["a"] },
  ];
  it.each(cases)("$name", ({ strategy, nodes, chunkIds, locality, count, avoid, want }) => {
    const requirements = reqs({ strategy, resources: { cpu: 1, memoryMb: 0, diskMb: 0, gpus: 0 }, chunkIds, weights: { cpu: 0, memory: 0, disk: 0, spread: 0, locality: locality ?? 0 } });
    const placer = new Placer({ nodes, chunks });
    expect(placer.place({ requirements, count: count ?? 1, group: "svc", avoid: avoid && new Set(avoid) }).placements).toEqual(want);
  });

  it("explain says how many of the wanted bytes each node holds, with the locality term", () => {
    const requirements = reqs({ strategy: "spread", chunkIds: ["big", "small", "tiny", "unknown"] });
    const { verdicts } = new Placer({ nodes: [snap("a"), snap("b"), snap("c")], chunks }).explain({ requirements, count: 1, group: "svc" });
    const by = Object.fromEntries(verdicts.map((v) => [v.nodeId, v]));
    expect(by.b.locality).toBe("holds 4.0 GiB of 4.2 GiB wanted");
    expect(by.c.locality).toBe("holds 1.2 GiB of 4.2 GiB wanted");
    expect(by.a.locality).toBe("holds 0 B of 4.2 GiB wanted");
    expect(by.b.scoreTerms.locality).toBeCloseTo(4 / 4.2, 3);
    expect(by.b.scoreTerms.held_bytes).toBe(4 * GiB);
    expect(by.a.scoreTerms.locality).toBe(0);
    expect([by.b, by.c, by.a].map((v) => v.score)).toEqual([3, 2, 1]);
  });

  it("explain without chunk ids has no locality text or term", () => {
    const { verdicts } = new Placer({ nodes: [snap("a")], chunks }).explain({ requirements: reqs(), count: 1, group: "svc" });
    expect(verdicts[0].locality).toBe("");
    expect(verdicts[0].scoreTerms).not.toHaveProperty("locality");
  });

  it.each([
    [0, "0 B"],
    [512, "512 B"],
    [1536, "1.5 KiB"],
    [3.2 * GiB, "3.2 GiB"],
  ])("formats %d bytes as %s", (n, text) => expect(formatBytes(n)).toBe(text));
});
