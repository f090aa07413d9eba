import Sqlite from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../support/agent-process.js";
import { httpRequest } from "../support/http.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const compose = "services:\n  web:\n    image: nginx\n";

// What SIGKILL leaves behind: the real server in a child process, killed right after its
// answers, its SQLite file read directly and through a restarted server.
describe("acknowledged writes survive SIGKILL", () => {
  const started: ServerProcess[] = [];
  const start = async (env: Record<string, string>) => {
    const p = await startServerProcess({ env: { CAPSTAN_DEV: "1", ...env } });
    started.push(p);
    return p;
  };
  afterEach(async () => {
    for (const p of started.splice(0)) await p.stop(2_000);
  });

  it("keeps the heartbeat that brought a node back online, and the audit events of every answered mutating call", async () => {
    const server = await start({ HEARTBEAT_TTL: "1s", HEARTBEAT_FLUSH_INTERVAL: "1h" });
    const rest = (path: string, body?: unknown, method?: string) => httpRequest(`${server.url}${path}`, { body, method });
    expect((await rest("/api/v1/nodes", { node_id: "elio-1", address: "10.0.0.1", p2p_port: 9000, http_port: 8080 })).status).toBe(201);
    await eventually(async () => (await rest("/api/v1/nodes/elio-1")).json?.node?.status === "offline", 10_000, "node offline after the TTL");

    // The heartbeat that brings it back is acknowledged: its time must be stored with the transition.
    const beforeHeartbeat = Date.now();
    expect((await rest("/api/v1/nodes/elio-1/heartbeat", { node_id: "elio-1", online: true, memory_used_mb: 10, timestamp: Date.now() }, "PUT")).status).toBe(200);

    // Concurrent operator calls, each answered: their events must be stored before the answers.
    const answers = await Promise.all([
      ...[0, 1, 2, 3, 4].map((i) => rest("/api/v1/deployments", { project_name: `proj-${i}`, rendered_compose: compose })),
      rest("/api/apply", { apiVersion: "orion/v1", kind: "Config", metadata: { name: "demo", environment: "test" }, spec: { services: [{ name: "web", command: "sleep 60" }, { name: "worker", command: "sleep 60" }] } }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202, 202]);
    const deploymentIds = answers.slice(0, 5).map((a) => a.json.deployment_id as string);
    await server.kill("SIGKILL");

    const db = new Sqlite(server.dbPath);
    try {
      const node = db.prepare("SELECT status, last_heartbeat_at AS at FROM nodes WHERE id = ?").get("elio-1") as { status: string; at: string | number };
      expect(node.status).toBe("online");
      expect(new Date(node.at).getTime()).toBeGreaterThanOrEqual(beforeHeartbeat);
      const events = db.prepare("SELECT rpc, target, outcome FROM audit_events ORDER BY id").all() as Array<{ rpc: string; target: string; outcome: string }>;
      expect(events.filter((e) => e.rpc.endsWith("/CreateDeployment")).map((e) => e.target).sort()).toEqual([...deploymentIds].sort());
      expect(events.filter((e) => e.rpc.endsWith("/Apply"))).toEqual([{ rpc: "capstan.v1.DeploymentService/Apply", target: "web,worker", outcome: "ok" }]);
      expect(events.filter((e) => e.rpc.endsWith("/RegisterNode")).map((e) => e.target)).toEqual(["elio-1"]);
    } finally {
      db.close();
    }

    // A restarted server reads the same: the node's last heartbeat, and the trail through the API.
    const again = await start({ DATABASE_URL: `file:${server.dbPath}` });
    const node = (await httpRequest(`${again.url}/api/v1/nodes/elio-1`)).json.node as { last_heartbeat: string };
    expect(new Date(node.last_heartbeat).getTime()).toBeGreaterThanOrEqual(beforeHeartbeat);
    const trail = (await httpRequest(`${again.url}/api/v1/audit?rpc=capstan.v1.DeploymentService/CreateDeployment`)).json.events as Array<{ target: string }>;
    expect(trail.map((e) => e.target).sort()).toEqual([...deploymentIds].sort());
  });
});
