import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/agent-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

describe("chunk index over seed 004's REST paths", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-chunks-"));
  let server: TestServer;
  let beating = new Set<string>();
  let timer: NodeJS.Timeout;
  const env = () => ({
    DATABASE_URL: `file:${join(dir, "c.db")}`,
    HEARTBEAT_TTL: "600ms",
    REPLICA_GRACE: "8s",
    CHUNK_MONITOR_INTERVAL: "200ms",
    CHUNK_REPLICATION: "2",
  });
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  const register = (id: string, zone: string) =>
    rest("POST", "/api/v1/nodes", { node_id: id, address: `10.0.0.${id.slice(-1)}`, p2p_port: 7000, http_port: 8000, memory_capacity_mb: 1024, disk_capacity_mb: 100000, available_chunks: [] }).then(() =>
      rest("POST", `/api/v1/nodes/${id}/eligibility`, { eligibility: "eligible" }),
    );
  const locate = async (ids: string[]) => Object.fromEntries((await rest("POST", "/api/v1/chunks/locations", { chunk_ids: ids })).json.locations.map((l: any) => [l.chunk_id, l.peer_ids]));

  beforeAll(async () => {
    server = await startTestServer(env());
    timer = setInterval(() => {
      for (const id of beating) void rest("PUT", `/api/v1/nodes/${id}/heartbeat`, { node_id: id, online: true, active_connections: id === "n1" ? 5 : 1, timestamp: Date.now() }).catch(() => undefined);
    }, 150);
  });
  afterAll(async () => {
    clearInterval(timer);
    await server?.stop();
  });

  it("takes full and incremental reports and answers locations, unknown chunks empty", async () => {
    for (const id of ["n1", "n2"]) await register(id, "a");
    beating = new Set(["n1", "n2"]);
    expect((await rest("PUT", "/api/v1/nodes/n1/chunks", { chunk_ids: ["c1", "c2"] })).status).toBe(200);
    expect((await rest("PUT", "/api/v1/nodes/n2/chunks", { chunk_ids: ["c1"] })).json).toEqual({ chunk_count: 1 });
    // n1 reports more active connections than n2, so n2 is preferred.
    await eventually(async () => (await rest("GET", "/api/v1/nodes/n1")).json.node.metrics?.active_connections === 5, 5000, "n1 heartbeat");
    await eventually(async () => (await rest("GET", "/api/v1/nodes/n2")).json.node.metrics?.active_connections === 1, 5000, "n2 heartbeat");
    expect(await locate(["c1", "c2", "zz"])).toEqual({ c1: ["n2", "n1"], c2: ["n1"], zz: [] });
    const upd = await rest("POST", "/api/v1/nodes/n2/chunks", { added_chunk_ids: ["c3"], removed_chunk_ids: ["c1"] });
    expect(upd.json.chunk_count).toBe(1);
    expect(await locate(["c1", "c3"])).toEqual({ c1: ["n1"], c3: ["n2"] });
    await rest("PUT", "/api/v1/nodes/n1/chunks", { chunk_ids: ["c2"] });
    expect(await locate(["c1", "c2"])).toEqual({ c1: [], c2: ["n1"] });
  });

  it("rejects reports for unknown nodes and bad chunk ids, naming the field", async () => {
    expect((await rest("PUT", "/api/v1/nodes/ghost/chunks", { chunk_ids: ["x"] })).status).toBe(404);
    const bad = await rest("PUT", "/api/v1/nodes/n1/chunks", { chunk_ids: ["has space"] });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("chunks[0]");
  });

  it("hides an offline node from queries at once, and a 5-second blip issues no commands", async () => {
    await new Promise((r) => setTimeout(r, 500));
    const pendingBefore = (await rest("GET", "/api/v1/metrics")).json.pending_commands;
    beating.delete("n2");
    await eventually(async () => (await rest("GET", "/api/v1/nodes/n2")).json.node.status === "offline", 5000, "n2 offline");
    expect(await locate(["c3"])).toEqual({ c3: [] });
    await new Promise((r) => setTimeout(r, 5000));
    expect((await rest("GET", "/api/v1/metrics")).json.pending_commands).toBe(pendingBefore);
    beating.add("n2");
    await eventually(async () => (await rest("GET", "/api/v1/nodes/n2")).json.node.status === "online", 5000, "n2 back");
    expect(await locate(["c3"])).toEqual({ c3: ["n2"] });
    expect((await rest("GET", "/api/v1/nodes/n2/commands")).json.commands.filter((c: any) => c.chunk_id === "c3")).toEqual([]);
  });

  it("replicates an under-replicated chunk to a node in another zone, and the report brings it to target", async () => {
    await rest("POST", "/api/v1/nodes/register", { node_id: "n3", name: "n3", address: "10.0.0.3", labels: { zone: "b" } });
    await rest("POST", "/api/v1/nodes/register", { node_id: "n4", name: "n4", address: "10.0.0.4", labels: { zone: "a" } });
    beating = new Set(["n1", "n2", "n3", "n4"]);
    // Give n1..n4 zones: n1, n2, n4 in a; n3 in b.
    for (const id of ["n1", "n2"]) await rest("POST", "/api/v1/nodes/register", { node_id: id, name: id, address: `10.0.0.${id.slice(-1)}`, labels: { zone: "a" }, ports: { p2p: 7000 } });
    await rest("PUT", "/api/v1/nodes/n3/chunks", { chunk_ids: [] });
    await rest("PUT", "/api/v1/nodes/n4/chunks", { chunk_ids: [] });
    await new Promise((r) => setTimeout(r, 500));
    const underBefore = (await rest("GET", "/api/v1/metrics")).json.under_replicated;
    // A new chunk on n1 (zone a) alone: its second copy belongs in zone b.
    await rest("POST", "/api/v1/nodes/n1/chunks", { added_chunk_ids: ["z1"] });
    await eventually(async () => (await rest("GET", "/api/v1/metrics")).json.under_replicated === underBefore + 1, 5000, "z1 counted under target");
    const cmd = await eventually(async () => (await rest("GET", "/api/v1/nodes/n3/commands")).json.commands.find((c: any) => c.chunk_id === "z1"), 5000, "replicate command for z1");
    expect(cmd).toMatchObject({ action: "replicate", source_node_id: "n1", target_node_id: "n3", priority: 1 });
    expect(typeof cmd.created_at).toBe("number");
    expect((await rest("GET", "/api/v1/nodes/n3/commands")).json.commands.map((c: any) => c.command_id)).toContain(cmd.command_id);
    expect((await rest("POST", "/api/v1/nodes/n3/commands/ack", { command_id: cmd.command_id })).status).toBe(200);
    expect((await rest("GET", `/api/v1/jobs/${cmd.command_id}`)).json.job.status).toBe("completed");
    await rest("POST", "/api/v1/nodes/n3/chunks", { added_chunk_ids: ["z1"] });
    expect((await locate(["z1"])).z1.sort()).toEqual(["n1", "n3"]);
    await eventually(async () => (await rest("GET", "/api/v1/metrics")).json.under_replicated === underBefore, 5000, "z1 at target");
  });

  it("evicts an over-replicated chunk", async () => {
    for (const id of ["n1", "n3", "n4"]) await rest("POST", `/api/v1/nodes/${id}/chunks`, { added_chunk_ids: ["c9"] });
    const evict = await eventually(async () => {
      for (const id of ["n1", "n2", "n3", "n4"]) {
        for (const c of (await rest("GET", `/api/v1/nodes/${id}/commands`)).json.commands.filter((x: any) => x.chunk_id === "c9")) {
          if (c.action === "evict") return c;
          // A monitor pass between the three reports saw c9 under its target: that copy is moot
          // now, and the chunk gets no other command while it is pending.
          await rest("POST", `/api/v1/nodes/${id}/commands/ack`, { command_id: c.command_id });
        }
      }
      return undefined;
    }, 5000, "evict command");
    expect(evict.action).toBe("evict");
    expect(["n1", "n4"]).toContain(evict.target_node_id);
  });

  it("answers cluster metrics in seed 004's shape, with replication counts", async () => {
    const m = (await rest("GET", "/api/v1/metrics")).json;
    expect(m).toMatchObject({ total_nodes: 4, active_nodes: 4, total_chunks: expect.any(Number), cache_hit_rate: expect.any(Number) });
    expect(m.total_replicas).toBeGreaterThanOrEqual(m.total_chunks);
    expect(m.pending_commands).toBeGreaterThanOrEqual(1);
  });

  it("keeps replication targets across a restart, and rebuilds locations from new reports", async () => {
    await rest("PUT", "/api/v1/chunks/c2/replication", { replication_factor: 1 });
    await server.stop();
    server = await startTestServer(env());
    expect(await locate(["c2"])).toEqual({ c2: [] });
    await rest("PUT", "/api/v1/nodes/n1/chunks", { chunk_ids: ["c2"] });
    await rest("PUT", "/api/v1/nodes/n3/chunks", { chunk_ids: ["c2"] });
    // A slow restart can outlast the 600 ms TTL, so the liveness monitor may mark a node offline
    // (hidden from locations) until its next heartbeat brings it back: wait for that, not a fixed time.
    await eventually(async () => (await locate(["c2"])).c2.sort().join() === "n1,n3", 5000, "c2 located on n1 and n3");
    await eventually(async () => (await rest("GET", "/api/v1/metrics")).json.over_replicated >= 1, 5000, "c2 over its persisted target of 1");
  });

  it("records the chunks a node registers with (available_chunks) as its full report, and copies from it", async () => {
    // n5 registers holding r1 and r2; n6 registers holding nothing and never sends a report.
    await register("n5", "");
    await rest("POST", "/api/v1/nodes", { node_id: "n5", address: "10.0.0.5", p2p_port: 7000, http_port: 8000, disk_capacity_mb: 100000, available_chunks: ["r1", "r2"] });
    await register("n6", "");
    beating = new Set([...beating, "n5", "n6"]);
    expect(await locate(["r1", "r2"])).toEqual({ r1: ["n5"], r2: ["n5"] });
    const copy = await eventually(async () => {
      for (const id of ["n1", "n2", "n3", "n4", "n6"]) {
        const c = (await rest("GET", `/api/v1/nodes/${id}/commands`)).json.commands?.find((x: any) => x.chunk_id === "r1");
        if (c) return c;
      }
      return undefined;
    }, 5000, "a copy of r1 from n5");
    expect(copy).toMatchObject({ action: "replicate", source_node_id: "n5" });
    const bad = await rest("POST", "/api/v1/nodes", { node_id: "n6", address: "10.0.0.6", p2p_port: 7000, available_chunks: ["has space"] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain("available_chunks[0]");
  });
});

describe("nodes carry the chunks they hold", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-node-chunks-"));
  let server: TestServer;
  // Its own server: a node holding 150 single-copy chunks would start replication in the suite above.
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CHUNK_REPLICATION: "1" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("lists each node's chunks where seed 004's client reads them, bounded per node in lists", async () => {
    const many = Array.from({ length: 150 }, (_, i) => `big-${i}`);
    await rest("POST", "/api/v1/nodes", { node_id: "n7", address: "10.0.0.7", p2p_port: 7000, http_port: 8000 });
    await rest("PUT", "/api/v1/nodes/n7/chunks", { chunk_ids: many });
    const listed = (await rest("GET", "/api/v1/nodes")).json.nodes as Array<{ node_id: string; available_chunks: string[]; chunk_count: number }>;
    const n7 = listed.find((n) => n.node_id === "n7");
    expect(n7?.chunk_count).toBe(150);
    expect(n7?.available_chunks).toHaveLength(100);
    expect(many).toEqual(expect.arrayContaining(n7?.available_chunks ?? ["missing"]));
    const one = (await rest("GET", "/api/v1/nodes/n7")).json.node;
    expect([...one.available_chunks].sort()).toEqual([...many].sort());
  });

});

describe("cache nodes that registered but never reported", () => {
  let server: TestServer;
  let timer: NodeJS.Timeout;
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-chunks-reg-")), "c.db")}`, HEARTBEAT_TTL: "2s", CHUNK_MONITOR_INTERVAL: "200ms", CHUNK_REPLICATION: "2" });
    // m1 registers holding q (seed 004's available_chunks); m2 registers holding nothing and never sends a report.
    await rest("POST", "/api/v1/nodes", { node_id: "m1", address: "10.1.0.1", p2p_port: 7000, http_port: 8000, disk_capacity_mb: 100000, available_chunks: ["q"] });
    await rest("POST", "/api/v1/nodes", { node_id: "m2", address: "10.1.0.2", p2p_port: 7000, http_port: 8000, disk_capacity_mb: 100000, available_chunks: [] });
    for (const id of ["m1", "m2"]) await rest("POST", `/api/v1/nodes/${id}/eligibility`, { eligibility: "eligible" });
    timer = setInterval(() => {
      for (const id of ["m1", "m2"]) void rest("PUT", `/api/v1/nodes/${id}/heartbeat`, { node_id: id, online: true, timestamp: Date.now() }).catch(() => undefined);
    }, 300);
  });
  afterAll(async () => {
    clearInterval(timer);
    await server?.stop();
  });

  it("copies a chunk known only from registration to the node that never reported", async () => {
    const cmd = await eventually(async () => (await rest("GET", "/api/v1/nodes/m2/commands")).json.commands?.find((c: any) => c.chunk_id === "q"), 5000, "a copy of q to m2");
    expect(cmd).toMatchObject({ action: "replicate", source_node_id: "m1", target_node_id: "m2" });
  });
});
