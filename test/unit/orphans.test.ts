import { describe, expect, it } from "vitest";
import type { Replica, ReplicaStatus } from "../../src/model/replica.js";
import { orphanedReplicas, type RunningOnNode } from "../../src/orchestrator/orphans.js";

const ENDED_AT = 10_000;

function replica(id: string, status: ReplicaStatus, nodeId = "n1"): Replica {
  return { id, serviceName: "web", nodeId, status, specHash: "h", jobId: "j", createdAt: new Date(0), updatedAt: new Date(ENDED_AT) };
}

const node = (running: string[], over: Partial<RunningOnNode> = {}): RunningOnNode => ({ nodeId: "n1", online: true, heartbeatAt: ENDED_AT + 1_000, running, ...over });

describe("replicas an agent runs where the control plane does not (orphans)", () => {
  it.each([
    { name: "a running replica on its node", replicas: [replica("web-0123456789ab", "running")], node: node(["web-0123456789ab"]), orphans: [] },
    { name: "a pending one (launched, not yet reported)", replicas: [replica("web-0123456789ab", "pending")], node: node(["web-0123456789ab"]), orphans: [] },
    { name: "one being stopped", replicas: [replica("web-0123456789ab", "stopping")], node: node(["web-0123456789ab"]), orphans: [] },
    { name: "a lost one (stopped when its node returns, elsewhere)", replicas: [replica("web-0123456789ab", "lost")], node: node(["web-0123456789ab"]), orphans: [] },
    { name: "a failed one still listed after it failed", replicas: [replica("web-0123456789ab", "failed")], node: node(["web-0123456789ab"]), orphans: ["web-0123456789ab"] },
    { name: "a stopped one still listed after it stopped", replicas: [replica("web-0123456789ab", "stopped")], node: node(["web-0123456789ab"]), orphans: ["web-0123456789ab"] },
    { name: "a failed one listed by a heartbeat from before it failed", replicas: [replica("web-0123456789ab", "failed")], node: node(["web-0123456789ab"], { heartbeatAt: ENDED_AT - 1 }), orphans: [] },
    { name: "a collected one of a known service", replicas: [], node: node(["web-0123456789ab"]), orphans: ["web-0123456789ab"] },
    { name: "a running replica listed by another node too", replicas: [replica("web-0123456789ab", "running", "n2")], node: node(["web-0123456789ab"]), orphans: ["web-0123456789ab"] },
    { name: "an unknown service's id", replicas: [], node: node(["db-0123456789ab"]), orphans: [] },
    { name: "a compose project or a container of another form", replicas: [], node: node(["web", "web-1", "web-0123456789AB"]), orphans: [] },
    { name: "anything on an offline node (its list is old)", replicas: [replica("web-0123456789ab", "failed")], node: node(["web-0123456789ab"], { online: false }), orphans: [] },
  ])("$name → $orphans", ({ replicas, node: n, orphans }) => {
    const got = orphanedReplicas([n], new Map(replicas.map((r) => [r.id, r])), new Set(["web"]));
    expect(got.map((o) => o.replicaId)).toEqual(orphans);
    for (const o of got) expect(o).toMatchObject({ nodeId: "n1", serviceName: "web" });
  });
});
