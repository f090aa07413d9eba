import { describe, expect, it } from "vitest";
import { withAllocations } from "../../src/orchestrator/build-snapshot.js";
import { reconcile, type ReconcileInput } from "../../src/orchestrator/reconcile.js";
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

  it("does nothing when observed matches desired", () => {
    const plan = run({
      services: [{ spec: spec("web", { replicas: 2 }), specHash: "h1" }],
      replicas: [replica("web", "a"), replica("web", "b")],
    });
    expect(plan).toEqual({ launches: [], stops: [], lost: [] });
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
});
