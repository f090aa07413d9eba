import { describe, expect, it } from "vitest";
import { withAllocations } from "../../src/orchestrator/build-snapshot.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { explainService } from "../../src/orchestrator/explain-service.js";
import { dependencyIssues, dependencyWait } from "../../src/model/service-dependencies.js";
import type { Replica } from "../../src/model/replica.js";
import { replica, spec } from "../fakes/service-specs.js";
import { snap } from "../fakes/snapshots.js";

const dep = (name: string, dependencies: string[] = []) => spec(name, { dependencies });

describe("dependencyIssues", () => {
  it.each([
    { name: "none", applied: [dep("web", ["db"]), dep("db")], kept: [], want: [] },
    { name: "a dependency already applied", applied: [dep("web", ["db"])], kept: [dep("db")], want: [] },
    {
      name: "an unknown name, at its field path",
      applied: [dep("db"), dep("web", ["db", "cache"])],
      kept: [],
      want: [{ path: "spec.services[1].dependencies[1]", message: 'unknown service "cache" (neither in this document nor already applied)' }],
    },
    { name: "itself", applied: [dep("web", ["web"])], kept: [], want: [{ path: "spec.services[0].dependencies[0]", message: '"web" depends on itself' }] },
    {
      name: "a cycle through the document, named on each edge",
      applied: [dep("a", ["b"]), dep("b", ["c"]), dep("c", ["a"])],
      kept: [],
      want: [
        { path: "spec.services[0].dependencies[0]", message: "dependency cycle: a → b → c → a" },
        { path: "spec.services[1].dependencies[0]", message: "dependency cycle: b → c → a → b" },
        { path: "spec.services[2].dependencies[0]", message: "dependency cycle: c → a → b → c" },
      ],
    },
    {
      name: "a cycle through an applied service",
      applied: [dep("a", ["b"])],
      kept: [dep("b", ["a"])],
      want: [{ path: "spec.services[0].dependencies[0]", message: "dependency cycle: a → b → a" }],
    },
    { name: "a diamond is no cycle", applied: [dep("a", ["b", "c"]), dep("b", ["d"]), dep("c", ["d"]), dep("d")], kept: [], want: [] },
  ])("$name", ({ applied, kept, want }) => {
    expect(dependencyIssues(applied, kept)).toEqual(want);
  });
});

describe("dependencyWait", () => {
  it.each([
    { states: [], want: "" },
    { states: [{ name: "db", desired: 2, running: 2 }], want: "" },
    { states: [{ name: "db", desired: 2, running: 1 }, { name: "cache", desired: undefined, running: 0 }], want: "waits for dependencies: db (1 of 2 running), cache (not applied)" },
  ])("$want", ({ states, want }) => expect(dependencyWait(states)).toBe(want));
});

describe("reconcile with dependencies", () => {
  const nodes = [snap("a"), snap("b"), snap("c")];
  const run = (replicas: Replica[]) =>
    reconcile({
      services: [
        { spec: spec("web", { replicas: 2, dependencies: ["db"] }), specHash: "h1" },
        { spec: spec("db", { replicas: 2 }), specHash: "h1" },
      ],
      replicas,
      snapshot: withAllocations(nodes, replicas.map((r) => ({ nodeId: r.nodeId, group: r.serviceName, resources: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 } }))),
      lostNodes: new Set(),
      maxParallel: 10,
    });

  it.each([
    { name: "nothing runs: only db starts", replicas: [], web: 0, db: 2, message: "waits for dependencies: db (0 of 2 running)" },
    { name: "db pending: web waits", replicas: [replica("db", "a", { status: "pending" }), replica("db", "b", { status: "pending" })], web: 0, db: 0, message: "waits for dependencies: db (0 of 2 running)" },
    { name: "one db replica runs: web waits", replicas: [replica("db", "a"), replica("db", "b", { status: "pending" })], web: 0, db: 0, message: "waits for dependencies: db (1 of 2 running)" },
    { name: "every db replica runs: web starts", replicas: [replica("db", "a"), replica("db", "b")], web: 2, db: 0, message: undefined },
  ])("$name", ({ replicas, web, db, message }) => {
    const plan = run(replicas);
    expect(plan.launches.filter((l) => l.serviceName === "web").length).toBe(web);
    expect(plan.launches.filter((l) => l.serviceName === "db").length).toBe(db);
    expect(plan.messages.web).toBe(message);
  });

  it("explain says what the service waits for", () => {
    const e = explainService({
      desired: { spec: spec("web", { replicas: 2, dependencies: ["db"] }), specHash: "h1" },
      replicas: [],
      snapshot: { nodes },
      waitingFor: "waits for dependencies: db (1 of 2 running)",
    });
    expect(e.placements).toEqual([]);
    expect(e.summary).toBe("runs 0 of 2; waits for dependencies: db (1 of 2 running)");
  });
});
