import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PlacementRequirements, PlacementStrategy } from "../../src/model/placement.js";
import { FILTERS } from "../../src/orchestrator/filters.js";
import { Placer, type PlacementRequest } from "../../src/orchestrator/placer.js";
import type { ChunkLocalityView, NodeSnapshot, ResourceAmounts } from "../../src/orchestrator/snapshot.js";
import { reqs, snap } from "../fakes/snapshots.js";

type Res = ResourceAmounts;
const KEYS = ["cpu", "memoryMb", "diskMb", "gpus"] as const;
const add = (a: Res, b: Res): Res => ({ cpu: a.cpu + b.cpu, memoryMb: a.memoryMb + b.memoryMb, diskMb: a.diskMb + b.diskMb, gpus: a.gpus + b.gpus });
const known = (n: NodeSnapshot) => KEYS.some((k) => n.capacity[k] > 0);

/** A random node: maybe unknown capacity (an agent that sent labels only), maybe offline or draining. */
const nodeArb = (id: string) =>
  fc
    .record({
      zone: fc.constantFrom("a", "b", "c", undefined),
      unknown: fc.integer({ min: 0, max: 9 }).map((x) => x < 2),
      cpu: fc.integer({ min: 1, max: 16 }),
      memGb: fc.integer({ min: 1, max: 16 }),
      usedCpu: fc.integer({ min: 0, max: 100 }),
      usedMem: fc.integer({ min: 0, max: 100 }),
      online: fc.integer({ min: 0, max: 9 }).map((x) => x < 8),
      eligible: fc.integer({ min: 0, max: 9 }).map((x) => x < 9),
      svc: fc.integer({ min: 0, max: 2 }),
      other: fc.integer({ min: 0, max: 2 }),
    })
    .map((r): NodeSnapshot => {
      const capacity = r.unknown ? { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 } : { cpu: r.cpu, memoryMb: r.memGb * 1024, diskMb: 10240, gpus: 0 };
      const used = r.unknown ? capacity : { cpu: Math.floor((r.cpu * r.usedCpu) / 100), memoryMb: Math.floor((capacity.memoryMb * r.usedMem) / 100), diskMb: 0, gpus: 0 };
      const groups: Record<string, number> = {};
      if (r.svc) groups.svc = r.svc;
      if (r.other) groups.other = r.other;
      return snap(id, { labels: r.zone ? { zone: r.zone } : {}, capacity, used, online: r.online, eligible: r.eligible, groups });
    });

const clusterArb = fc
  .integer({ min: 1, max: 12 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeArb(`n${String(i).padStart(2, "0")}`))))
  .chain((nodes) => fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length }));

const CHUNKS = ["c0", "c1", "c2", "c3", "missing"];

const requirementsArb = fc
  .record({
    strategy: fc.constantFrom<PlacementStrategy | undefined>("spread", "binpack", "round_robin", undefined),
    cpu: fc.constantFrom(0, 0.5, 1, 2),
    memoryMb: fc.constantFrom(0, 256, 1024, 4096),
    spreadLabel: fc.constantFrom("", "zone"),
    spreadWeight: fc.constantFrom(0, 1),
    cpuWeight: fc.constantFrom(0, 2),
    chunkIds: fc.subarray(CHUNKS),
    localityWeight: fc.constantFrom(0, 0.3, 3),
  })
  .map((r): PlacementRequirements =>
    reqs({
      strategy: r.strategy,
      resources: { cpu: r.cpu, memoryMb: r.memoryMb, diskMb: 0, gpus: 0 },
      spreadLabel: r.spreadLabel,
      weights: { cpu: r.cpuWeight, memory: 0, disk: 0, spread: r.spreadWeight, locality: r.localityWeight },
      chunkIds: r.chunkIds,
    }),
  );

/** A chunk layout over a cluster: each chunk's size and holders (some of them offline: the view hides those, as the index does). */
const layoutArb = (nodes: readonly NodeSnapshot[]) =>
  fc.tuple(...CHUNKS.map(() => fc.record({ size: fc.constantFrom(0, 1 << 20, 3 << 30), holders: fc.subarray(nodes.map((n) => n.id), { maxLength: Math.min(4, nodes.length) }) }))).map(
    (chunks): ChunkLocalityView => {
      const online = new Set(nodes.filter((n) => n.online).map((n) => n.id));
      const byId = new Map(chunks.map((c, i) => [CHUNKS[i], { size: c.size, holders: c.holders.filter((h) => online.has(h)) }]));
      return { chunkLocation: (id) => byId.get(id) };
    },
  );

const requestArb = fc.record({ requirements: requirementsArb, count: fc.integer({ min: 1, max: 15 }), group: fc.constantFrom("svc", "other", "new") });

/**
 * The definitions of the README, written out by brute force over every node
 * (independently of the placer's candidate trees): where the next unit goes.
 */
class Oracle {
  private readonly used = new Map<string, Res>();
  private readonly units = new Map<string, number>();
  cursor = "";

  constructor(
    private readonly nodes: readonly NodeSnapshot[],
    private readonly chunks?: ChunkLocalityView,
  ) {
    for (const n of nodes) {
      this.used.set(n.id, { ...n.used });
      for (const g in n.groups) this.units.set(`${g}/${n.id}`, n.groups[g]);
    }
  }

  unitsOn(group: string, id: string): number {
    return this.units.get(`${group}/${id}`) ?? 0;
  }

  next(req: PlacementRequest): NodeSnapshot | undefined {
    const r = req.requirements;
    const strategy = r.strategy ?? "round_robin";
    const feasible = this.nodes.filter((n) => !req.avoid?.has(n.id) && FILTERS.every((f) => f.check(n, r, this.used.get(n.id) ?? n.used) === undefined));
    const w = [r.weights.cpu || 1, r.weights.memory || 1, r.weights.disk || 0.5];
    const full = (n: NodeSnapshot) => {
      const u = this.used.get(n.id) ?? n.used;
      const parts = (["cpu", "memoryMb", "diskMb"] as const).map((k, i) => (n.capacity[k] > 0 ? [(w[i] * u[k]) / n.capacity[k], w[i]] : [0, 0]));
      const weight = parts.reduce((s, p) => s + p[1], 0);
      return weight > 0 ? parts.reduce((s, p) => s + p[0], 0) / weight : 0;
    };
    const domain = (n: NodeSnapshot) => this.nodes.filter((m) => (m.labels[r.spreadLabel] ?? "") === (n.labels[r.spreadLabel] ?? "")).reduce((s, m) => s + this.unitsOn(req.group, m.id), 0);
    // Locality: the weighted share of the wanted bytes (unknown size: 1 byte) a node holds.
    const located = (r.chunkIds ?? []).map((id) => this.chunks?.chunkLocation(id)).filter((c) => c !== undefined);
    const wanted = located.reduce((sum, c) => sum + Math.max(1, c.size), 0);
    const score = (n: NodeSnapshot) => {
      const held = located.filter((c) => c.holders.includes(n.id)).reduce((sum, c) => sum + Math.max(1, c.size), 0);
      return held === 0 ? 0 : ((r.weights.locality || 1) * held) / wanted;
    };
    const key = (n: NodeSnapshot): Array<number | string> => {
      const here = this.unitsOn(req.group, n.id);
      if (strategy === "round_robin") return [here, -score(n), n.id > this.cursor ? 0 : 1, n.id];
      const k: Array<number | string> = [r.spreadLabel ? domain(n) : 0];
      k.push(strategy === "spread" || r.weights.spread > 0 ? here : 0);
      k.push(strategy === "binpack" ? -(full(n) + score(n)) : full(n) - score(n), n.id);
      return k;
    };
    const cmp = (a: Array<number | string>, b: Array<number | string>) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      return 0;
    };
    return feasible.map((n) => ({ n, k: key(n) })).sort((a, b) => cmp(a.k, b.k))[0]?.n;
  }

  commit(node: NodeSnapshot, req: PlacementRequest): void {
    this.used.set(node.id, add(this.used.get(node.id) ?? node.used, req.requirements.resources));
    this.units.set(`${req.group}/${node.id}`, this.unitsOn(req.group, node.id) + 1);
    if ((req.requirements.strategy ?? "round_robin") === "round_robin") this.cursor = node.id;
  }
}

describe("placer properties (random clusters and requests)", () => {
  it("places every unit exactly where the strategy's definition says (chunk locality included), and stops only when no node is feasible", () => {
    fc.assert(
      fc.property(clusterArb.chain((nodes) => fc.tuple(fc.constant(nodes), layoutArb(nodes))), fc.array(requestArb, { minLength: 1, maxLength: 3 }), ([nodes, chunks], requests) => {
        const placer = new Placer({ nodes, chunks });
        const oracle = new Oracle(nodes, chunks);
        for (const req of requests) {
          const result = placer.place(req);
          for (const id of result.placements) {
            const expected = oracle.next(req);
            expect(id).toBe(expected?.id);
            if (expected) oracle.commit(expected, req);
          }
          if (result.unplaced > 0) expect(oracle.next(req)).toBeUndefined();
          expect(result.placements.length + result.unplaced).toBe(req.count);
        }
        expect(placer.cursor).toBe(oracle.cursor);
      }),
      { numRuns: 400 },
    );
  });

  it("never puts a node over its capacity", () => {
    fc.assert(
      fc.property(clusterArb, fc.array(requestArb, { minLength: 1, maxLength: 4 }), (nodes, requests) => {
        const placer = new Placer({ nodes });
        const used = new Map(nodes.map((n) => [n.id, { ...n.used }]));
        for (const req of requests) for (const id of placer.place(req).placements) used.set(id, add(used.get(id)!, req.requirements.resources));
        for (const n of nodes.filter(known)) for (const k of KEYS) expect(used.get(n.id)![k]).toBeLessThanOrEqual(Math.max(n.capacity[k], n.used[k]));
      }),
      { numRuns: 300 },
    );
  });

  it("explain agrees with the placement: the top-ranked node takes the first unit, and the per-node counts match", () => {
    fc.assert(
      fc.property(clusterArb.chain((nodes) => fc.tuple(fc.constant(nodes), layoutArb(nodes))), requestArb, fc.constantFrom("", "n03", "n07", "n99"), ([nodes, chunks], req, cursor) => {
        const { verdicts, result } = new Placer({ nodes, chunks }, { cursor }).explain(req);
        const placed = new Placer({ nodes, chunks }, { cursor }).place(req);
        expect(result.placements).toEqual(placed.placements);
        const feasible = verdicts.filter((v) => v.feasible);
        if (placed.placements.length > 0) expect(feasible.reduce((a, b) => (b.score > a.score ? b : a)).nodeId).toBe(placed.placements[0]);
        for (const v of verdicts) {
          expect(v.placed).toBe(placed.placements.filter((id) => id === v.nodeId).length);
          if (!v.feasible) expect(v.rejectedBy).not.toBe("");
        }
        expect(new Set(feasible.map((v) => v.score)).size).toBe(feasible.length);
      }),
      { numRuns: 300 },
    );
  });

  it("spread never doubles a node while a feasible node of the same domain has none of the group", () => {
    fc.assert(
      fc.property(clusterArb, requestArb, (nodes, base) => {
        const req = { ...base, requirements: { ...base.requirements, strategy: "spread" as const } };
        const oracle = new Oracle(nodes);
        for (const id of new Placer({ nodes }).place(req).placements) {
          const node = nodes.find((n) => n.id === id)!;
          const label = req.requirements.spreadLabel;
          if (oracle.unitsOn(req.group, id) > 0) {
            const sameDomain = nodes.filter((n) => label === "" || (n.labels[label] ?? "") === (node.labels[label] ?? ""));
            const emptyFeasible = sameDomain.filter((n) => oracle.unitsOn(req.group, n.id) === 0 && oracle.next({ ...req, avoid: new Set(nodes.filter((m) => m !== n).map((m) => m.id)) }));
            expect(emptyFeasible.map((n) => n.id)).toEqual([]);
          }
          oracle.commit(node, req);
        }
      }),
      { numRuns: 300 },
    );
  });
});
