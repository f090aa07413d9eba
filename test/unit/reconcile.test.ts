import { describe, expect, it } from "vitest";
import { withAllocations } from "../../src/orchestrator/build-snapshot.js";
import { reconcile, type ReconcileInput } from "../../src/orchestrator/reconcile.js";
import type { Replica } from "../../src/model/replica.js";
import { replica, spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";

const nodes = (...ids: string[]) => ({ nodes: ids.map((id) => snap(id)) });

/** Runs the reconciler with the replicas also folded into the snapshot, as the runner does. */
function run(over: Partial<ReconcileInput>) {
  const input: ReconcileInput = { services: [], replicas: [], snapshot: nodes("a", "b", "c"), lostNodes: new Set(), maxParallel: 10, ...over };
  const allocations = input.replicas
    .filter((r) => r.status === "running" || r.status === "pending")
    .map((r) => ({ nodeId: r.nodeId, group: r.serviceName, resources: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 } }));
  return reconcile({ ...input, snapshot: withAllocations(input.snapshot.nodes, allocations) });
}

describe("reconcile", () => {
  it("spreads a new 3-replica service over 3 nodes", () => {
    const plan = run({ services: [{ spec: spec("web", { replicas: 3 }), specHash: "h1" }] });
    expect(plan.launches.map((l) => l.nodeId).sort()).toEqual(["a", "b", "c"]);
    expect(plan.stops).toEqual([]);
  });

  it("says why each replica went where it did: the strategy and the terms it compared for the node", () => {
    const plan = run({
      services: [{ spec: spec("web", { replicas: 2 }), specHash: "h1" }],
      replicas: [replica("web", "a")],
    });
    expect(plan.launches).toHaveLength(1);
    const [launch] = plan.launches;
    expect(launch.reason).toBe("chosen by the round_robin strategy");
    // Node a already runs one: the one launched goes where the service has none yet.
    expect(launch.scoreTerms).toMatchObject({ units_here: 0 });
    expect(launch.scoreTerms).toHaveProperty("fullness");
  });

  it("does nothing when observed matches desired", () => {
    const plan = run({
      services: [{ spec: spec("web", { replicas: 2 }), specHash: "h1" }],
      replicas: [replica("web", "a"), replica("web", "b")],
    });
    expect(plan).toEqual({ launches: [], stops: [], lost: [], cursor: "", messages: {} });
  });

  it("marks replicas on lost nodes and places them elsewhere", () => {
    const lostOne = replica("web", "c");
    const plan = run({
      services: [{ spec: spec("web", { replicas: 3 }), specHash: "h1" }],
      replicas: [replica("web", "a"), replica("web", "b"), lostOne],
      snapshot: { nodes: [snap("a"), snap("b"), snap("c", { online: false }), snap("d")] },
      lostNodes: new Set(["c"]),
    });
    expect(plan.lost).toEqual([lostOne.id]);
    expect(plan.launches.map((l) => l.nodeId)).toEqual(["d"]);
  });

  it("stops the duplicate when a lost node comes back", () => {
    const old = replica("web", "c", { status: "lost" });
    const plan = run({ services: [{ spec: spec("web"), specHash: "h1" }], replicas: [replica("web", "a"), old] });
    expect(plan.stops).toEqual([{ replicaId: old.id, reason: "node returned; replica was replaced" }]);
  });

  it("moves replicas off a draining node: replacement first, then the old one", () => {
    const drained = replica("web", "a");
    const input = {
      services: [{ spec: spec("web"), specHash: "h1" }],
      snapshot: { nodes: [snap("a", { eligible: false }), snap("b")] },
    };
    const first = run({ ...input, replicas: [drained] });
    expect(first.launches.map((l) => l.nodeId)).toEqual(["b"]);
    expect(first.stops).toEqual([]);
    const second = run({ ...input, replicas: [drained, replica("web", "b")] });
    expect(second.stops).toEqual([{ replicaId: drained.id, reason: "node draining or ineligible" }]);
    expect(second.launches).toEqual([]);
  });

  it("rolls a spec change out at most maxParallel at a time", () => {
    const old = ["a", "b", "c"].map((n) => replica("web", n));
    const plan = run({ services: [{ spec: spec("web", { replicas: 3 }), specHash: "h2" }], replicas: old, maxParallel: 1 });
    expect(plan.launches).toHaveLength(1);
    expect(plan.stops).toEqual([]);
  });

  it("scales down by stopping the newest replicas", () => {
    const rs = ["a", "b", "c"].map((n) => replica("web", n));
    const plan = run({ services: [{ spec: spec("web", { replicas: 1 }), specHash: "h1" }], replicas: rs });
    expect(plan.stops.map((s) => s.replicaId)).toEqual([rs[2].id, rs[1].id]);
  });

  it("stops every replica of a deleted service", () => {
    const rs = [replica("old", "a"), replica("old", "b")];
    const plan = run({ replicas: rs });
    expect(plan.stops.map((s) => s.reason)).toEqual(["service deleted", "service deleted"]);
  });

  it("reports replicas it cannot place, with the scheduler's reason", () => {
    const plan = run({
      services: [{ spec: spec("gpu", { placement: { ...spec("x").placement, requiredTags: ["gpu"] } }), specHash: "h1" }],
    });
    expect(plan.launches).toEqual([{ serviceName: "gpu", nodeId: undefined, reason: "placed 0 of 1 on 3 nodes: 3 rejected by tags" }]);
  });

  it("a replacement for a replica on a draining node goes to the same zone: drained replicas do not count for their domain", () => {
    const zoned = (id: string, zone: string, over = {}) => snap(id, { labels: { zone }, ...over });
    const placement = { ...spec("x").placement, strategy: "spread" as const, spreadLabel: "zone" };
    const drained = replica("web", "x1");
    const plan = run({
      services: [{ spec: spec("web", { replicas: 6, placement }), specHash: "h1" }],
      replicas: [drained, replica("web", "x2"), replica("web", "b1"), replica("web", "b2"), replica("web", "c1"), replica("web", "c2")],
      snapshot: { nodes: [zoned("x1", "a", { eligible: false }), zoned("x2", "a"), zoned("x3", "a"), zoned("b1", "b"), zoned("b2", "b"), zoned("b3", "b"), zoned("c1", "c"), zoned("c2", "c")] },
    });
    expect(plan.launches.map((l) => l.nodeId)).toEqual(["x3"]);
  });

  it("a replacement for a replica on a lost node stays in its zone", () => {
    const zoned = (id: string, zone: string, over = {}) => snap(id, { labels: { zone }, ...over });
    const placement = { ...spec("x").placement, strategy: "spread" as const, spreadLabel: "zone" };
    const plan = run({
      services: [{ spec: spec("web", { replicas: 4, placement }), specHash: "h1" }],
      replicas: [replica("web", "x1"), replica("web", "x2"), replica("web", "b1"), replica("web", "b2")],
      snapshot: { nodes: [zoned("x1", "a", { online: false }), zoned("x2", "a"), zoned("x3", "a"), zoned("b1", "b"), zoned("b2", "b"), zoned("b3", "b")] },
      lostNodes: new Set(["x1"]),
    });
    expect(plan.launches.map((l) => l.nodeId)).toEqual(["x3"]);
  });

  it("round robin continues where the previous pass stopped", () => {
    const first = run({ services: [{ spec: spec("api"), specHash: "h1" }] });
    const second = run({ services: [{ spec: spec("web"), specHash: "h1" }], cursor: first.cursor });
    expect([first.launches[0].nodeId, second.launches[0].nodeId, second.cursor]).toEqual(["a", "b", "b"]);
  });
});

describe("rolling update on a full cluster", () => {
  const gpu = { ...spec("x").placement, resources: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 1 } };
  const full = { nodes: ["a", "b", "c"].map((id) => snap(id, { capacity: { cpu: 4, memoryMb: 8192, diskMb: 102400, gpus: 1 } })) };
  /** Replicas take their GPU in the snapshot, as the runner's snapshot does. */
  const runFull = (replicas: Replica[], update?: { maxParallel: number; maxUnavailable: number }) =>
    reconcile({
      services: [{ spec: spec("train", { replicas: 3, placement: gpu, update }), specHash: "h2" }],
      replicas,
      snapshot: withAllocations(full.nodes, replicas.filter((r) => r.status === "running" || r.status === "pending").map((r) => ({ nodeId: r.nodeId, group: r.serviceName, resources: gpu.resources }))),
      lostNodes: new Set(),
      maxParallel: 2,
    });
  const old = () => ["a", "b", "c"].map((n) => replica("train", n));

  it("by default waits, stops nothing, and says why in the service's message", () => {
    const plan = runFull(old());
    expect(plan.stops).toEqual([]);
    expect(plan.launches.every((l) => l.nodeId === undefined)).toBe(true);
    expect(plan.messages.train).toBe(
      "update waits: placed 0 of 2 on 3 nodes: 3 rejected by resources; 3 old replicas stop only after their replacements run (update.max_unavailable is 0: set it to let old replicas stop first)",
    );
  });

  it("with max_unavailable 1 stops one old replica, and the next pass places its replacement there", () => {
    const replicas = old();
    const first = runFull(replicas, { maxParallel: 1, maxUnavailable: 1 });
    expect(first.stops).toEqual([{ replicaId: replicas[0].id, reason: "spec changed" }]);
    const second = runFull([{ ...replicas[0], status: "stopping" }, replicas[1], replicas[2]], { maxParallel: 1, maxUnavailable: 1 });
    expect(second.launches.map((l) => ({ serviceName: l.serviceName, nodeId: l.nodeId }))).toEqual([{ serviceName: "train", nodeId: "a" }]);
  });
});
