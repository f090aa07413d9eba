import { describe, expect, it } from "vitest";
import { compareVersions } from "../../src/orchestrator/filters.js";
import { Placer } from "../../src/orchestrator/placer.js";
import { reqs, snap } from "../fakes/snapshots.js";

const res = (over: Partial<{ cpu: number; memoryMb: number; diskMb: number; gpus: number }>) => ({ cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0, ...over });

describe("placement filters", () => {
  it.each([
    ["offline node", snap("n", { online: false }), reqs(), "online", "node is offline"],
    ["draining node", snap("n", { eligible: false }), reqs(), "eligible", "node is ineligible or draining"],
    ["no docker", snap("n", { dockerAvailable: false }), reqs({ requireDocker: true }), "docker", "Docker is not available on the node"],
    ["old docker", snap("n", { dockerVersion: "20.10.9" }), reqs({ minDockerVersion: "24.0.0" }), "docker_version", "needs Docker 24.0.0, node has 20.10.9"],
    ["missing tag", snap("n"), reqs({ requiredTags: ["gpu"] }), "tags", "lacks gpu"],
    ["wrong label", snap("n", { labels: { zone: "b" } }), reqs({ labels: { zone: "a" } }), "labels", "label zone=a required, node has zone=b"],
    ["constraint in", snap("n", { labels: { zone: "c" } }), reqs({ constraints: [{ key: "zone", operator: "in", values: ["a", "b"] }] }), "constraints", "constraint zone in a,b fails (node has c)"],
    ["constraint exists", snap("n"), reqs({ constraints: [{ key: "ssd", operator: "exists", values: [] }] }), "constraints", "constraint ssd exists fails (node has (unset))"],
    ["memory", snap("n", { used: res({ memoryMb: 7680 }) }), reqs({ resources: res({ memoryMb: 1024 }) }), "resources", "needs 1024 MiB memory, 512 free"],
    ["gpu", snap("n"), reqs({ resources: res({ gpus: 1 }) }), "resources", "needs 1 GPUs, 0 free"],
    ["cpu on a node that reported some capacity", snap("n", { capacity: res({ memoryMb: 512 }) }), reqs({ resources: res({ cpu: 0.1 }) }), "resources", "needs 0.1 CPU cores, 0 free"],
  ])("%s is rejected by %s with a reason", (_name, node, requirements, filter, reason) => {
    const { verdicts } = new Placer({ nodes: [node] }).explain({ requirements, count: 1, group: "g" });
    expect(verdicts[0]).toMatchObject({ feasible: false, rejectedBy: filter, reason });
  });

  it.each([
    ["24.0.10", "24.0.9", 1],
    ["24.0.0", "24.0.0", 0],
    ["20.10", "24.0.0", -1],
  ])("compares versions %s vs %s", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});

describe("placement strategies", () => {
  const three = () => [snap("a"), snap("b"), snap("c")];

  it("round robin spreads replicas one per node in turn", () => {
    const r = new Placer({ nodes: three() }).place({ requirements: reqs(), count: 4, group: "web" });
    expect(r.placements).toEqual(["a", "b", "c", "a"]);
  });

  it("spread prefers the emptiest node", () => {
    const nodes = [snap("a", { used: res({ cpu: 3 }) }), snap("b", { used: res({ cpu: 1 }) }), snap("c", { used: res({ cpu: 2 }) })];
    const r = new Placer({ nodes }).place({ requirements: reqs({ strategy: "spread", resources: res({ cpu: 0.5 }) }), count: 1, group: "web" });
    expect(r.placements).toEqual(["b"]);
  });

  it("binpack prefers the fullest node that still fits", () => {
    const nodes = [snap("a", { used: res({ cpu: 1 }) }), snap("b", { used: res({ cpu: 3 }) }), snap("c", { used: res({ cpu: 3.8 }) })];
    const r = new Placer({ nodes }).place({ requirements: reqs({ strategy: "binpack", resources: res({ cpu: 0.5 }) }), count: 1, group: "web" });
    expect(r.placements).toEqual(["b"]);
  });

  it("spreads across failure domains before doubling up in one", () => {
    const nodes = [snap("a1", { labels: { zone: "a" } }), snap("a2", { labels: { zone: "a" } }), snap("b1", { labels: { zone: "b" } })];
    const r = new Placer({ nodes }).place({ requirements: reqs({ strategy: "spread", spreadLabel: "zone" }), count: 2, group: "web" });
    expect(new Set(r.placements.map((id) => id[0]))).toEqual(new Set(["a", "b"]));
  });

  it("accounts for resources taken by earlier units of the same request", () => {
    const nodes = [snap("a", { capacity: res({ cpu: 2, memoryMb: 1024 }) })];
    const r = new Placer({ nodes }).place({ requirements: reqs({ resources: res({ cpu: 1 }) }), count: 3, group: "web" });
    expect(r.placements).toEqual(["a", "a"]);
    expect(r.unplaced).toBe(1);
    expect(r.summary).toBe("placed 2 of 3 on 1 node: 1 rejected by resources");
  });

  it("never chooses avoided nodes", () => {
    const r = new Placer({ nodes: three() }).place({ requirements: reqs(), count: 2, group: "chunk", avoid: new Set(["a"]) });
    expect(r.placements).not.toContain("a");
  });

  it("explains every node and how many units the dry run would place on it", () => {
    const nodes = [snap("a"), snap("b", { online: false }), snap("c", { labels: { gpu: "true" } })];
    const { verdicts, result } = new Placer({ nodes }).explain({ requirements: reqs(), count: 2, group: "web" });
    expect(verdicts.map((v) => [v.nodeId, v.feasible, v.rejectedBy, v.placed])).toEqual([
      ["a", true, "", 1],
      ["b", false, "online", 0],
      ["c", true, "", 1],
    ]);
    expect(result.summary).toBe("placed 2 of 2 on 3 nodes");
  });
});

const twelve = () =>
  ["a", "b", "c"].flatMap((zone) => [1, 2, 3, 4].map((i) => snap(`${zone}${i}`, { labels: { zone }, capacity: res({ cpu: 4, memoryMb: 8192 }) })));
const spread = (placements: string[]) => [...new Set(placements)].length;
const perNode = (placements: string[]) => Object.values(Object.fromEntries(placements.map((id) => [id, placements.filter((p) => p === id).length])));

describe("the cases of issue 18", () => {
  it.each([
    ["binpack packs 6 one-core replicas onto 2 empty 4-core nodes", twelve(), reqs({ strategy: "binpack", resources: res({ cpu: 1 }) }), 6, (p: string[]) => expect(spread(p)).toBe(2)],
    [
      "binpack fills the two-thirds full node first, then packs the rest onto 2 more nodes",
      ["a", "b", "c", "d", "e", "f"].map((id) => snap(id, { capacity: res({ cpu: 3, memoryMb: 8192 }), used: res({ cpu: id === "d" ? 2 : 0 }) })),
      reqs({ strategy: "binpack", resources: res({ cpu: 1 }) }),
      6,
      (p: string[]) => expect(p).toEqual(["d", "a", "a", "a", "b", "b"]),
    ],
    [
      "binpack with a spread weight spreads its own replicas, fullest first",
      twelve(),
      reqs({ strategy: "binpack", resources: res({ cpu: 1 }), weights: { cpu: 0, memory: 0, disk: 0, spread: 1 } }),
      3,
      (p: string[]) => expect(spread(p)).toBe(3),
    ],
    ["spread puts 12 replicas on 12 feasible nodes one each", twelve(), reqs({ strategy: "spread" }), 12, (p: string[]) => expect(perNode(p)).toEqual(Array(12).fill(1))],
    [
      "spread with a zone label: 4/4/4 per zone and one per node",
      twelve(),
      reqs({ strategy: "spread", spreadLabel: "zone", resources: res({ cpu: 0.5 }) }),
      12,
      (p: string[]) => expect(perNode(p)).toEqual(Array(12).fill(1)),
    ],
  ])("%s", (_name, nodes, requirements, count, check) => {
    const r = new Placer({ nodes }).place({ requirements, count, group: "web" });
    expect(r.unplaced).toBe(0);
    check(r.placements);
  });

  it("round robin rotates across services and passes: three one-replica services land on three nodes", () => {
    const nodes = twelve();
    let cursor = "";
    const chosen: string[] = [];
    for (const group of ["api", "web", "worker"]) {
      const placer = new Placer({ nodes }, { cursor });
      chosen.push(...placer.place({ requirements: reqs(), count: 1, group }).placements);
      cursor = placer.cursor;
    }
    expect(chosen).toEqual(["a1", "a2", "a3"]);
  });

  it("a node that reported no capacity passes the resources filter, and explain says it was not checked", () => {
    const orion = [snap("o1", { capacity: res({}) }), snap("o2", { capacity: res({}) })];
    const requirements = reqs({ resources: res({ cpu: 0.1, memoryMb: 64 }) });
    const { verdicts, result } = new Placer({ nodes: [...orion, snap("full", { used: res({ cpu: 4 }) })] }).explain({ requirements, count: 2, group: "orion" });
    expect(result.placements).toEqual(["o1", "o2"]);
    expect(verdicts.map((v) => [v.nodeId, v.feasible, v.rejectedBy, v.reason])).toEqual([
      ["o1", true, "", "capacity not checked: the node reported none (agents that send labels only, such as Orion's)"],
      ["o2", true, "", "capacity not checked: the node reported none (agents that send labels only, such as Orion's)"],
      ["full", false, "resources", "needs 0.1 CPU cores, 0 free"],
    ]);
  });
});
