import { createClient } from "@connectrpc/connect";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventService } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// A marker no other process carries, so the test can clean up replicas its agents leave behind.
const MARK = "300.4343";
const GiB = 1024 ** 3;

/**
 * Issue 16's service spec features end to end: real capstan-agent processes
 * (process driver) run the replicas, everything goes through the REST dialect.
 */
describe("service specs that do what they say (real agents, REST)", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-specs-"));
  let server: TestServer;
  const agents: AgentProcess[] = [];
  const ids = new Map<string, string>();
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  const apply = (services: unknown[]) => rest("POST", "/api/apply", { apiVersion: "orion/v1", kind: "Config", metadata: { name: "issue-16" }, spec: { services } });
  const service = async (name: string) => (await rest("GET", `/api/services/${name}`)).json.service;
  const running = async (name: string) => ((await service(name))?.replicaSet ?? []).filter((r: any) => r.status === "running");

  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      HEARTBEAT_TTL: "900ms",
      RECONCILE_INTERVAL: "300ms",
      AUTOSCALE_COOLDOWN: "1s",
      MAX_PARALLEL: "3",
    });
    for (const name of ["node-a", "node-b", "node-c"]) {
      agents.push(startAgent(["--server", server.url, "--state-dir", join(dir, name), "--workdir", dir, "--name", name, "--max-backoff", "1000"]));
    }
    await eventually(async () => (await rest("GET", "/api/v1/nodes")).json.nodes?.filter((n: any) => n.connected).length === 3, 30_000, "three agents connected");
    for (const n of (await rest("GET", "/api/v1/nodes")).json.nodes) ids.set(n.name, n.id);
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await server?.stop();
    try {
      execFileSync("pkill", ["-f", MARK]);
    } catch {
      // nothing left to kill
    }
  });

  it("places a service that reads chunks on the node holding most of their bytes, and explain says how much each holds", async () => {
    const [a, b, c] = ["node-a", "node-b", "node-c"].map((n) => ids.get(n) as string);
    expect((await rest("PUT", `/api/v1/nodes/${b}/chunks`, { chunks: [{ chunk_id: "model-weights", size_bytes: 3 * GiB }] })).status).toBe(200);
    expect((await rest("PUT", `/api/v1/nodes/${c}/chunks`, { chunks: [{ chunk_id: "vocab", size_bytes: GiB }] })).status).toBe(200);
    const requirements = { strategy: "PLACEMENT_STRATEGY_SPREAD", chunk_ids: ["model-weights", "vocab"] };
    const explain = (await rest("POST", "/api/v1/placement/explain", { requirements, count: 1 })).json;
    const by = Object.fromEntries(explain.nodes.map((v: any) => [v.node_id, v]));
    expect(by[b].locality).toBe("holds 3.0 GiB of 4.0 GiB wanted");
    expect(by[c].locality).toBe("holds 1.0 GiB of 4.0 GiB wanted");
    expect(by[a].locality).toBe("holds 0 B of 4.0 GiB wanted");
    expect(by[b].score_terms.locality).toBeCloseTo(0.75, 4);
    expect(explain.chosen_node_ids).toEqual([b]);

    expect((await apply([{ name: "reader", command: `sleep ${MARK}`, placement: { strategy: "PLACEMENT_STRATEGY_SPREAD", chunkIds: ["model-weights", "vocab"] } }])).status).toBe(202);
    const reps = await eventually(async () => ((await running("reader")).length === 1 ? running("reader") : undefined), 20_000, "reader running");
    expect(reps[0].nodeId).toBe(b);
    expect((await service("reader")).placement.chunkIds).toEqual(["model-weights", "vocab"]);
    await rest("DELETE", "/api/services/reader");
  });

  it("refuses an unknown dependency and a cycle at apply, naming the field", async () => {
    const unknown = await apply([{ name: "web", command: `sleep ${MARK}`, dependencies: ["nosuch"] }]);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json)).toContain("spec.services[0].dependencies[0]");
    expect(JSON.stringify(unknown.json)).toContain('unknown service \\"nosuch\\"');
    const cycle = await apply([
      { name: "web", command: `sleep ${MARK}`, dependencies: ["api"] },
      { name: "api", command: `sleep ${MARK}`, dependencies: ["web"] },
    ]);
    expect(cycle.status).toBe(400);
    expect(JSON.stringify(cycle.json)).toContain("dependency cycle: web → api → web");
  });

  it("starts a service only once every replica of its dependency runs, and says what it waits for meanwhile", async () => {
    // db cannot run anywhere yet (no node has the label): web must wait.
    const db = { name: "db", command: `sleep ${MARK}`, replicas: 2, placement: { labels: { role: "db" } } };
    const web = { name: "web", command: `sleep ${MARK}`, dependencies: ["db"] };
    expect((await apply([db, web])).status).toBe(202);
    const waiting = await eventually(async () => ((await service("web")).statusMessage === "waits for dependencies: db (0 of 2 running)" ? service("web") : undefined), 10_000, "web waits");
    expect(waiting.replicaSet ?? []).toEqual([]);
    expect((await rest("GET", "/api/services/web/explain")).json.summary).toBe("runs 0 of 1; waits for dependencies: db (0 of 2 running)");
    // Now db can run: web follows once both db replicas run.
    expect((await apply([{ ...db, placement: {} }, web])).status).toBe(202);
    await eventually(async () => (await running("web")).length === 1, 20_000, "web running");
    const dbReplicas = (await service("db")).replicaSet;
    const webReplica = (await service("web")).replicaSet[0];
    for (const r of dbReplicas.filter((x: any) => x.status === "running")) expect(Date.parse(r.createTime)).toBeLessThanOrEqual(Date.parse(webReplica.createTime));
    expect(dbReplicas.filter((x: any) => x.status === "running")).toHaveLength(2);
    await rest("POST", "/api/apply", { apiVersion: "orion/v1", kind: "Config", spec: { services: [] }, prune: true });
  });

  it("scales a service whose replicas burn CPU up to maxReplicas on their own CPU, then down when the thresholds say it is idle", async () => {
    // Each replica keeps about a fifth of a core busy: 200% of the 0.1 core it requests.
    const burn = `exec ${process.execPath} -e 'setInterval(() => { const end = Date.now() + 20; while (Date.now() < end); }, 100)' ${MARK}`;
    const autoscaling = { enabled: true, minReplicas: 1, maxReplicas: 2, scaleUpThreshold: 50, scaleDownThreshold: 10, scaleDownDelaySeconds: 1 };
    const burner = { name: "burner", command: burn, replicas: 1, resources: { cpu: 0.1 }, autoscaling };
    expect((await apply([burner])).status).toBe(202);
    const up = await eventually(async () => {
      const s = await service("burner");
      return s.replicas === 2 && s.lastScale ? s : undefined;
    }, 30_000, "burner scaled up");
    expect(up.lastScale).toMatchObject({ fromReplicas: 1, toReplicas: 2, threshold: 50, source: "replica" });
    expect(up.lastScale.reason).toMatch(/^cpu \d+\.\d% of requested \(replica CPU\) above scaleUpThreshold 50%: 1 → 2$/);
    expect(up.lastScale.metric).toBeGreaterThan(50);
    await eventually(async () => (await running("burner")).length === 2, 20_000, "two burners running");
    // Re-applying the document keeps the autoscaled count (replicas: 1 only seeds a new service).
    expect((await apply([burner])).json.plan.changes[0]).toMatchObject({ serviceName: "burner", action: "unchanged", toReplicas: 2 });
    // The same load is idle under new thresholds: one replica goes after the delay (the replicas themselves are not replaced).
    expect((await apply([{ ...burner, autoscaling: { ...autoscaling, scaleUpThreshold: 5000, scaleDownThreshold: 4000 } }])).status).toBe(202);
    const down = await eventually(async () => {
      const s = await service("burner");
      return s.replicas === 1 ? s : undefined;
    }, 30_000, "burner scaled down");
    expect(down.lastScale).toMatchObject({ fromReplicas: 2, toReplicas: 1, threshold: 4000, source: "replica" });
    expect(down.lastScale.reason).toMatch(/below scaleDownThreshold 4000% for 1s: 2 → 1$/);
    await eventually(async () => (await running("burner")).length === 1, 20_000, "one burner left");
    // Both scales are scheduler decisions on the event stream, with their counts, metric and reason.
    const scaled = [];
    for await (const r of createClient(EventService, server.grpc).watchEvents({ fromIndex: 0n, topics: ["scheduler_decisions"], keys: ["burner"] })) {
      if (r.event?.topic === "heartbeat" && r.event.index > 0n && scaled.length > 0) break;
      if (r.event?.type === "scaled" && r.event.payload.case === "decision") scaled.push(r.event.payload.value);
    }
    expect(scaled.map((d) => [d.fromReplicas, d.toReplicas])).toEqual([[1, 2], [2, 1]]);
    expect(scaled[0].metric).toBeGreaterThan(50);
    expect(scaled[1].reason).toMatch(/below scaleDownThreshold 4000% for 1s: 2 → 1$/);
  });
});
