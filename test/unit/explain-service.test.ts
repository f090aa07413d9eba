import { describe, expect, it } from "vitest";
import { withAllocations } from "../../src/orchestrator/build-snapshot.js";
import { explainService } from "../../src/orchestrator/explain-service.js";
import type { Replica } from "../../src/model/replica.js";
import { replica, spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";

const cluster = ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"].map((id) => snap(id, { labels: { zone: id[0] } }));
const running = ["a1", "a2", "a3", "a4"].map((n) => replica("web", n));
const snapshotWith = (replicas: Replica[]) =>
  withAllocations(cluster, replicas.map((r) => ({ nodeId: r.nodeId, group: r.serviceName, resources: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 } })));
const placement = { ...spec("x").placement, strategy: "spread" as const };

describe("explain of an existing service", () => {
  it.each([
    ["as it runs: where its replicas are, nothing to place", 4, "h1", [], [], "runs 4 of 4 on a1, a2, a3, a4; no change"],
    ["scaled to 6: only the 2 new replicas", 6, "h1", ["b1", "b2"], [], "runs 4 of 6 on a1, a2, a3, a4; would place 2 on b1, b2"],
    ["scaled to 2: the 2 newest stop", 2, "h1", [], [running[3].id, running[2].id], "runs 4 of 2 on a1, a2, a3, a4; would stop 2 on a3, a4"],
    [
      // The old replicas no longer count for spread (they are on their way out), so with no resources asked the replacements may join them.
      "a new spec: 4 replacements, then the 4 old replicas stop",
      4,
      "h2",
      ["a1", "a2", "a3", "a4"],
      running.map((r) => r.id),
      "runs 4 of 4 on a1, a2, a3, a4; would place 4 on a1, a2, a3, a4; would stop 4 on a1, a2, a3, a4",
    ],
  ])("%s", (_name, replicas, hash, placed, stopped, summary) => {
    const e = explainService({ desired: { spec: spec("web", { replicas, placement }), specHash: hash }, replicas: running, snapshot: snapshotWith(running) });
    expect(e.placements).toEqual(placed);
    expect(e.stoppingReplicaIds).toEqual(stopped);
    expect(e.summary).toBe(summary);
    const a1 = e.verdicts.find((v) => v.nodeId === "a1");
    expect(a1).toMatchObject({ feasible: true, running: 1, scoreTerms: { units_here: hash === "h1" ? 1 : 0 } });
  });
});
