import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { noRequirements } from "../../src/model/placement.js";
import type { Task } from "../../src/model/task.js";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { openDatabase, type Database } from "../../src/store/database.js";
import { allApplied, readMigrations } from "../../src/store/migrate.js";
import { probeWrite } from "../../src/store/store-probe.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { spec } from "../fakes/service-specs.js";

const logger = pino({ level: "silent" });

/** A PostgreSQL adapter factory for a test URL whose ?schema= selects the search path, as openDatabase does. */
function pgFactory(url: string): PrismaPg {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? undefined;
  parsed.searchParams.delete("schema");
  if (schema) parsed.searchParams.set("options", `-c search_path=${schema}`);
  return new PrismaPg({ connectionString: parsed.toString() }, schema ? { schema } : undefined);
}
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe.each(providers())("stores on %s", (provider) => {
  let tdb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    tdb = await createTestDatabase(provider);
    db = await openDatabase(tdb.url, logger);
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it("applies migrations once: a second open applies nothing and keeps the data", async () => {
    await db.nodes.upsert(node("keep"));
    await db.close();
    db = await openDatabase(tdb.url, logger);
    expect((await db.nodes.listAll()).map((n) => n.id)).toContain("keep");
  });

  it("knows without the schema engine when every migration is applied, and when one is missing", async () => {
    const factory = provider === "sqlite" ? new PrismaBetterSqlite3({ url: tdb.url }) : pgFactory(tdb.url);
    const wanted = (await readMigrations(provider)).migrationDirectories.map((d) => d.path);
    expect(await allApplied(factory, wanted)).toBe(true);
    expect(await allApplied(factory, [...wanted, "99999999999999_not_applied_yet"])).toBe(false);
    const fresh = await createTestDatabase(provider);
    try {
      const empty = provider === "sqlite" ? new PrismaBetterSqlite3({ url: fresh.url }) : pgFactory(fresh.url);
      expect(await allApplied(empty, wanted)).toBe(false);
    } finally {
      await fresh.drop();
    }
  });

  it("round-trips a node with every field, and batches heartbeats", async () => {
    const n = node("n1");
    await db.nodes.upsert(n);
    expect((await db.nodes.listAll()).find((x) => x.id === "n1")).toEqual(n);
    await db.nodes.flushHeartbeats([{ id: "n1", lastHeartbeatAt: at(9), metrics: { ...n.metrics!, cpuUsage: 99 } }]);
    await db.nodes.setStatus("n1", "offline", at(10));
    const back = (await db.nodes.listAll()).find((x) => x.id === "n1");
    expect([back?.status, back?.metrics?.cpuUsage, back?.lastHeartbeatAt]).toEqual(["offline", 99, at(9)]);
    // Back online: the heartbeat that brought it back is stored with the status.
    await db.nodes.setStatus("n1", "online", at(20), { lastHeartbeatAt: at(20), metrics: { ...n.metrics!, cpuUsage: 7 } });
    const online = (await db.nodes.listAll()).find((x) => x.id === "n1");
    expect([online?.status, online?.metrics?.cpuUsage, online?.lastHeartbeatAt]).toEqual(["online", 7, at(20)]);
    expect(await db.nodes.delete("n1")).toBe(true);
    expect(await db.nodes.delete("n1")).toBe(false);
  });

  it("1,201 nodes written at once all commit, and a heartbeat flush of them in one statement per batch stores exactly what a single node's write stores, skipping a deleted node", async () => {
    const ids = Array.from({ length: 1_201 }, (_, i) => `hb${i}`);
    await Promise.all(ids.map((id) => db.nodes.insert(node(id))));
    const seen = new Date(Date.UTC(2026, 3, 1, 12, 0, 0, 7));
    const metrics = { ...node("x").metrics!, cpuUsage: 42.5 };
    await db.nodes.flushHeartbeats([...ids.map((id) => ({ id, lastHeartbeatAt: seen, metrics })), { id: "hb-deleted", lastHeartbeatAt: seen, metrics }]);
    // The same values through Prisma's own update, for comparing the stored text.
    await db.nodes.insert(node("hb-ref"));
    await db.nodes.setStatus("hb-ref", "online", seen, { lastHeartbeatAt: seen, metrics });
    const back = (await db.nodes.listAll()).filter((n) => n.id.startsWith("hb"));
    expect(back.filter((n) => n.id !== "hb-ref").map((n) => [n.lastHeartbeatAt, n.metrics?.cpuUsage])).toEqual(ids.map(() => [seen, 42.5]));
    const raw = await db.prisma.$queryRawUnsafe<Array<{ id: string; at: string; metrics: string }>>(
      "SELECT id, CAST(last_heartbeat_at AS TEXT) AS at, metrics FROM nodes WHERE id IN ('hb0', 'hb1200', 'hb-ref') ORDER BY id",
    );
    expect(new Set(raw.map((r) => `${r.at} ${r.metrics}`)).size).toBe(1);
    expect(back.some((n) => n.id === "hb-deleted")).toBe(false);
    await Promise.all([...ids, "hb-ref"].map((id) => db.nodes.delete(id)));
  });

  it("1,000 facts written at once take consecutive sequence numbers in order, with their data intact (quotes, unicode)", async () => {
    const before = await db.feed!.head();
    const facts = Array.from({ length: 1_000 }, (_, i) => ({
      entity: "agent" as const,
      key: `n-"${i}"-ü`,
      fact: { nodeId: `n-${i}`, connected: i % 2 === 0, protocol: "grpc", replica: "r'1", at: "2026-01-01T00:00:00.000Z" },
    }));
    await db.facts.append(facts);
    const rows = await db.feed!.after(before, 2_000);
    expect(rows.map((r) => r.seq)).toEqual(facts.map((_, i) => before + 1 + i));
    expect(rows.map((r) => [r.entity, r.key, r.op, r.data && JSON.parse(r.data)])).toEqual(facts.map((f) => ["agent", f.key, "put", f.fact]));
  });

  it("audit events appended as one statement read back as written, their time stored as Prisma stores a DateTime", async () => {
    const time = new Date(Date.UTC(2026, 4, 2, 3, 4, 5, 678));
    const events = ["aud-1", "aud-2"].map((id) => ({ id, time, actor: "operator:ci", actorKind: "token", rpc: "DeleteNode", target: `t "${id}"`, outcome: "ok", message: "", peer: "10.0.0.1" }));
    await db.audit.append(events);
    await db.prisma.auditEvent.create({ data: { ...events[0], id: "aud-ref" } });
    expect((await db.audit.list({ limit: 1000 })).filter((e) => e.id === "aud-1" || e.id === "aud-2")).toEqual([...events].reverse());
    const raw = await db.prisma.$queryRawUnsafe<Array<{ t: string }>>("SELECT CAST(time AS TEXT) AS t FROM audit_events WHERE id IN ('aud-1', 'aud-ref')");
    expect(new Set(raw.map((r) => r.t)).size).toBe(1);
    await db.prisma.auditEvent.deleteMany({ where: { id: { in: ["aud-1", "aud-2", "aud-ref"] } } });
  });

  it("inserts a new node that reads back as upsert stores it, and refuses a second insert", async () => {
    const n = { ...node("ins"), metrics: undefined, lastHeartbeatAt: undefined, draining: true, anonymous: true };
    await db.nodes.insert(n);
    expect((await db.nodes.listAll()).find((x) => x.id === "ins")).toEqual(n);
    const m = { ...node("ins2"), createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 1, 234)), lastHeartbeatAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 7, 5)) };
    await db.nodes.insert(m);
    expect((await db.nodes.listAll()).find((x) => x.id === "ins2")).toEqual(m);
    await db.nodes.upsert({ ...m, name: "renamed" });
    expect((await db.nodes.listAll()).find((x) => x.id === "ins2")?.name).toBe("renamed");
    await expect(db.nodes.insert(m)).rejects.toThrow();
  });

  it("probes a write that leaves nothing behind", async () => {
    const before = await db.audit.list({ limit: 1000 });
    await probeWrite(db.prisma);
    expect(await db.audit.list({ limit: 1000 })).toEqual(before);
  });

  it("appends audit events in one statement and reads them newest first, filtered and paged", async () => {
    const ev = (id: string, s: number, actor: string, rpc: string) => ({ id, time: at(s), actor, actorKind: actor.split(":")[0], rpc, target: "n1", outcome: "ok", message: "it's \"quoted\" — ünïcode", peer: "10.0.0.1" });
    const events = [ev("01-a", 1, "operator:ci", "x/Apply"), ev("01-b", 2, "join", "x/RegisterNode"), ev("01-c", 3, "operator:ci", "x/Deploy")];
    await db.audit.append(events);
    await db.audit.append([]);
    expect(await db.audit.list({ limit: 10 })).toEqual([...events].reverse());
    expect((await db.audit.list({ actor: "operator:ci", limit: 10 })).map((e) => e.id)).toEqual(["01-c", "01-a"]);
    expect((await db.audit.list({ rpc: "x/RegisterNode", limit: 10 })).map((e) => e.id)).toEqual(["01-b"]);
    expect((await db.audit.list({ since: at(2), limit: 10 })).map((e) => e.id)).toEqual(["01-c", "01-b"]);
    expect((await db.audit.list({ beforeId: "01-c", limit: 1 })).map((e) => e.id)).toEqual(["01-b"]);
  });

  it("round-trips tokens and their revocation", async () => {
    const t = { id: "t1", name: "ci", scope: "write" as const, hash: "b".repeat(64), createdBy: "operator:root", createdAt: at(1), expiresAt: at(9), revokedAt: undefined };
    await db.tokens.insert(t);
    await db.tokens.revoke("t1", at(5));
    expect((await db.tokens.listAll()).find((x) => x.id === "t1")).toEqual({ ...t, revokedAt: at(5) });
  });

  it("round-trips jobs and pages them by time and id", async () => {
    for (let i = 0; i < 5; i++) {
      await db.jobs.create({
        id: `job-${i}`, nodeId: "n", type: "deploy_compose", status: i < 2 ? "completed" : "queued",
        payload: { type: "deploy_compose", projectName: "p", composeFile: "services: {}", env: { A: "1" }, revision: i },
        deploymentId: "d", serviceName: "", replicaId: "", logs: "line\n", error: "", exitCode: 0, result: i === 0 ? { ok: true } : undefined,
        attempts: 1, timeoutMs: 1000, createdAt: at(i), updatedAt: at(i), dispatchedAt: undefined, startedAt: undefined, finishedAt: undefined, deadline: undefined,
      });
    }
    expect((await db.jobs.get("job-0"))?.result).toEqual({ ok: true });
    expect((await db.jobs.list({ statuses: ["queued"] })).map((j) => j.id)).toEqual(["job-2", "job-3", "job-4"]);
    const page = await db.jobs.list({ deploymentId: "d", newestFirst: true, limit: 2, cursor: { createdAt: at(3), id: "job-3" } });
    expect(page.map((j) => j.id)).toEqual(["job-2", "job-1"]);
    // save updates a stored job and inserts one that is not stored yet.
    const job4 = (await db.jobs.get("job-4"))!;
    await db.jobs.save({ ...job4, status: "completed", logs: "done\n", finishedAt: at(9) });
    expect(await db.jobs.get("job-4")).toEqual({ ...job4, status: "completed", logs: "done\n", finishedAt: at(9) });
    await db.jobs.save({ ...job4, id: "job-5" });
    expect(await db.jobs.get("job-5")).toEqual({ ...job4, id: "job-5" });
  });

  it("round-trips tasks, finds a schedule's last fire time, lists newest first and prunes finished history", async () => {
    const task = (id: string, s: number, over: Partial<Task> = {}): Task => ({
      id, serviceName: "cron", kind: "schedule", status: "succeeded", jobId: `job-${id}`, nodeId: "n1", exitCode: 0, error: "",
      scheduledAt: at(s), specHash: "", createdAt: at(s), finishedAt: at(s + 1), ...over,
    });
    expect(await db.tasks.lastScheduled("cron")).toBeUndefined();
    await db.tasks.save(task("t1", 1));
    await db.tasks.save(task("t2", 2, { status: "skipped", jobId: "", error: "the previous run is still running", finishedAt: at(2) }));
    await db.tasks.save(task("t3", 3, { status: "running", finishedAt: undefined }));
    await db.tasks.save(task("m1", 4, { kind: "manual", scheduledAt: undefined, exitCode: 3, status: "failed" }));
    expect(await db.tasks.get("t3")).toEqual(task("t3", 3, { status: "running", finishedAt: undefined }));
    expect(await db.tasks.get("m1")).toEqual(task("m1", 4, { kind: "manual", scheduledAt: undefined, exitCode: 3, status: "failed" }));
    expect((await db.tasks.lastScheduled("cron"))?.toISOString()).toBe(at(3).toISOString());
    expect((await db.tasks.list({ serviceName: "cron", limit: 10 })).map((t) => t.id)).toEqual(["m1", "t3", "t2", "t1"]);
    expect((await db.tasks.list({ kind: "schedule", unfinished: true, limit: 10 })).map((t) => t.id)).toEqual(["t3"]);
    await db.tasks.prune("cron", "schedule", 1);
    // The newest finished one stays, and unfinished ones are never pruned.
    expect((await db.tasks.list({ serviceName: "cron", kind: "schedule", limit: 10 })).map((t) => t.id)).toEqual(["t3", "t2"]);
    await db.tasks.save({ ...task("t3", 3), status: "succeeded", exitCode: 0 });
    expect((await db.tasks.get("t3"))?.status).toBe("succeeded");
  });

  it("round-trips deployments with revisions, and services with replicas", async () => {
    const d = {
      id: "web", projectName: "web", templateId: "postgres", nodeId: "n", status: "running" as const, revision: 1, renderedCompose: "services: {}",
      composeHash: "h", env: { SECRET: "x" }, requirements: noRequirements(), lastJobId: "j", lastLogs: "", lastError: "", removing: false, createdAt: at(1), updatedAt: at(2),
    };
    await db.deployments.save(d);
    await db.deployments.addRevision({ deploymentId: "web", revision: 1, renderedCompose: "services: {}", composeHash: "h", env: { SECRET: "x" }, action: "apply", nodeId: "n", jobId: "", outcome: "pending", rollbackOf: 0, createdAt: at(1) });
    await db.deployments.setRevisionOutcome("web", 1, "completed", "j");
    expect(await db.deployments.get("web")).toEqual(d);
    expect((await db.deployments.listRevisions("web"))[0]).toMatchObject({ outcome: "completed", jobId: "j", env: { SECRET: "x" } });
    await db.services.saveService({ id: "s1", spec: spec("api", { replicas: 2 }), specHash: "abc", createdAt: at(1), updatedAt: at(1) });
    await db.services.saveReplica({ id: "api-1", serviceName: "api", nodeId: "n", status: "running", specHash: "abc", jobId: "j", createdAt: at(1), updatedAt: at(1) });
    expect((await db.services.listServices())[0].spec).toEqual(spec("api", { replicas: 2 }));
    expect((await db.services.listReplicas())[0]).toMatchObject({ id: "api-1", status: "running" });
    // The autoscaler's last change comes back with the service, and never as part of its spec.
    const lastScale = { at: at(3), from: 2, to: 3, metric: 91.5, threshold: 80, source: "replica" as const, reason: "cpu 91.5% above 80%: 2 → 3" };
    await db.services.saveService({ id: "s1", spec: spec("api", { replicas: 3 }), specHash: "abc", createdAt: at(1), updatedAt: at(3), lastScale });
    const bounds = { at: at(4), from: 6, to: 4, metric: undefined, threshold: undefined, source: undefined, reason: "bounds" };
    await db.services.saveService({ id: "s2", spec: spec("web"), specHash: "def", createdAt: at(1), updatedAt: at(4), lastScale: bounds });
    const [api, web] = await db.services.listServices();
    expect(api).toEqual({ id: "s1", spec: spec("api", { replicas: 3 }), specHash: "abc", createdAt: at(1), updatedAt: at(3), lastScale });
    expect(web.lastScale).toEqual(bounds);
    await db.chunkTargets.set("c1", 5);
    expect(await db.chunkTargets.list()).toEqual([{ chunkId: "c1", factor: 5 }]);
    await db.chunkTargets.set("c1", 0);
    expect(await db.chunkTargets.list()).toEqual([]);
  });
});

function node(id: string): Node {
  return {
    id, name: id, address: "10.0.0.1", labels: { zone: "a" }, tags: ["docker"],
    capabilities: { ...emptyCapabilities(), os: "linux", cpuCount: 4, gpus: [{ id: 0, model: "T4", memMb: 16000 }], dockerAvailable: true, dockerVersion: "27.0.0" },
    ports: { p2p: 7000 }, status: "online", eligibility: "eligible", draining: false, agentVersion: "1.0", tokenHash: "a".repeat(64), anonymous: false, agentKind: "rest",
    metrics: { cpuUsage: 1, memUsage: 2, diskFreeMb: 3, runningContainers: ["x"], memoryUsedMb: 4, diskUsedMb: 5, cacheHitRate: 0.5, totalChunks: 6, activeConnections: 7, uploadSpeedMbps: 8, downloadSpeedMbps: 9, load1: 0.5 },
    lastHeartbeatAt: at(5), createdAt: at(1), updatedAt: at(2),
  };
}
