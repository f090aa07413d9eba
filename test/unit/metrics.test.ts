import { Code } from "@connectrpc/connect";
import { register as globalRegistry, type Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createAppMetrics, replicaName } from "../../src/metrics/app-metrics.js";
import type { ChunkFigures, ClusterSources } from "../../src/metrics/cluster-gauges.js";
import { deliveredTo, newJob } from "../../src/model/job-dispatch.js";
import type { Job } from "../../src/model/job.js";
import { emptyCapabilities, type Node, type NodeStatus } from "../../src/model/node.js";
import { StoreHealth } from "../../src/state/store-health.js";
import { faultAware } from "../../src/store/store-faults.js";

/** The samples of one metric as prom-client reports them: labels and value. */
async function samples(registry: Registry, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

/** The value of the sample whose labels include `labels` (undefined when there is none). */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const found = (await samples(registry, name)).find((s) => Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v));
  return found?.value;
}

function node(id: string, status: NodeStatus, over: Partial<Node> = {}): Node {
  const at = new Date(0);
  return {
    id, name: id, address: "", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, status, eligibility: "eligible", draining: false,
    agentVersion: "", tokenHash: "", anonymous: false, agentKind: "grpc", metrics: undefined, lastHeartbeatAt: at, createdAt: at, updatedAt: at, ...over,
  };
}

const NO_CHUNKS: ChunkFigures = { totalChunks: 0, totalReplicas: 0, totalBytes: 0, underReplicated: 0, overReplicated: 0, zeroReplicated: 0, pendingCommands: 0 };

function sources(over: Partial<ClusterSources> = {}): ClusterSources {
  return { nodes: () => [], sessions: () => [], unfinishedJobs: () => [], chunks: () => NO_CHUNKS, unplaceable: () => 0, ...over };
}

describe("an app's metrics registry", () => {
  it("is its own: two apps in one process share no series, and prom-client's global registry stays empty", async () => {
    const a = createAppMetrics({ replica: "a", reportsClusterGauges: () => true });
    const b = createAppMetrics({ replica: "b", reportsClusterGauges: () => true });
    a.calls("capstan.v1.NodeService/ListNodes", 0, performance.now());
    expect(await value(a.registry, "capstan_calls_total", { method: "capstan.v1.NodeService/ListNodes" })).toBe(1);
    expect(await value(b.registry, "capstan_calls_total", { method: "capstan.v1.NodeService/ListNodes" })).toBeUndefined();
    expect(await globalRegistry.metrics()).not.toContain("capstan_");
  });

  it("labels every series with the replica, process metrics and event loop lag included", async () => {
    const m = createAppMetrics({ replica: "cp-2", reportsClusterGauges: () => true });
    m.watch(sources());
    m.calls("capstan.v1.NodeService/ListNodes", 0, performance.now());
    const text = await m.registry.metrics();
    const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.filter((l) => !l.includes('replica="cp-2"'))).toEqual([]);
    expect(text).toContain("nodejs_eventloop_lag_seconds{");
    expect(text).toContain("process_cpu_seconds_total{");
  });

  it("names the replica REPLICA_ID when set, else the machine", () => {
    expect(replicaName("cp-1")).toBe("cp-1");
    expect(replicaName(undefined)).not.toBe("");
  });
});

describe("call metrics", () => {
  it("count calls by method and code name, and time them", async () => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    const started = performance.now() - 20;
    m.calls("capstan.v1.NodeService/GetNode", 0, started);
    m.calls("capstan.v1.NodeService/GetNode", Code.NotFound, started);
    m.calls("capstan.v1.NodeService/GetNode", Code.NotFound, started);
    m.calls("capstan.v1.AgentService/AgentStream", Code.PermissionDenied, started);
    const calls = await samples(m.registry, "capstan_calls_total");
    expect(calls.map((s) => [s.labels.method, s.labels.code, s.value])).toEqual([
      ["capstan.v1.NodeService/GetNode", "ok", 1],
      ["capstan.v1.NodeService/GetNode", "not_found", 2],
      ["capstan.v1.AgentService/AgentStream", "permission_denied", 1],
    ]);
    const sum = await value(m.registry, "capstan_call_duration_seconds", { method: "capstan.v1.NodeService/GetNode", code: "ok" });
    const durations = (await samples(m.registry, "capstan_call_duration_seconds")).filter((s) => s.metricName === "capstan_call_duration_seconds_sum");
    expect(sum).toBeDefined();
    expect(durations.every((s) => s.value >= 0.02)).toBe(true);
  });
});

describe("job metrics", () => {
  const at = (ms: number) => new Date(1_000_000 + ms);
  const target = { protocol: "grpc", acknowledges: true, supports: () => true };

  it("leave out the queue time of a job dispatched before this process started (seen again after a restart)", async () => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    const created = newJob({ nodeId: "n1", payload: { type: "health_check" } }, at(0));
    const dispatched = deliveredTo(created, target, at(2_000));
    const running: Job = { ...dispatched, status: "in_progress", startedAt: at(3_000), updatedAt: at(3_000) };
    m.jobChanged(running);
    expect(await value(m.registry, "capstan_job_queue_seconds", { type: "health_check" })).toBeUndefined();
  });

  it.each<[string, (start: Date) => Job[], Record<string, number>]>([
    [
      "a job dispatched, started and completed",
      (t0) => {
        const created = newJob({ nodeId: "n1", payload: { type: "health_check" } }, t0);
        const dispatched = deliveredTo(created, { protocol: "grpc", acknowledges: true, supports: () => true }, new Date(t0.getTime() + 2_000));
        const running: Job = { ...dispatched, status: "in_progress", startedAt: new Date(t0.getTime() + 3_000), updatedAt: new Date(t0.getTime() + 3_000) };
        return [created, dispatched, running, running, { ...running, status: "completed", finishedAt: new Date(t0.getTime() + 13_000) }];
      },
      { queueCount: 1, queueSum: 2, durationCount: 1, durationSum: 10, finished: 1 },
    ],
    [
      "a job taken at its word on delivery (an agent that never acknowledges)",
      (t0) => [deliveredTo(newJob({ nodeId: "n1", payload: { type: "health_check" } }, t0), { protocol: "ws-orion", acknowledges: false, supports: () => true }, new Date(t0.getTime() + 500))],
      { queueCount: 1, queueSum: 0.5, durationCount: 1, durationSum: 0, finished: 1 },
    ],
    [
      "a job cancelled while queued",
      (t0) => {
        const created = newJob({ nodeId: "n1", payload: { type: "health_check" } }, t0);
        return [created, { ...created, status: "cancelled", finishedAt: new Date(t0.getTime() + 1_000) }];
      },
      { queueCount: 0, queueSum: 0, durationCount: 0, durationSum: 0, finished: 1 },
    ],
    [
      "a job redelivered after a reconnect (second attempt)",
      (t0) => {
        const created = newJob({ nodeId: "n1", payload: { type: "health_check" } }, t0);
        const first = deliveredTo(created, { protocol: "grpc", acknowledges: true, supports: () => true }, new Date(t0.getTime() + 1_000));
        const second = deliveredTo(first, { protocol: "grpc", acknowledges: true, supports: () => true }, new Date(t0.getTime() + 5_000));
        return [created, first, second];
      },
      { queueCount: 1, queueSum: 1, durationCount: 0, durationSum: 0, finished: 0 },
    ],
  ])("%s", async (_name, changes, expected) => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    const t0 = new Date(Date.now() + 1_000);
    const jobs = changes(t0);
    for (const job of jobs) m.jobChanged(job);
    const final = jobs[jobs.length - 1];
    const of = async (name: string, suffix: string) =>
      (await samples(m.registry, name)).find((s) => s.metricName === `${name}_${suffix}` && s.labels.type === "health_check")?.value ?? 0;
    expect({
      queueCount: await of("capstan_job_queue_seconds", "count"),
      queueSum: await of("capstan_job_queue_seconds", "sum"),
      durationCount: await of("capstan_job_duration_seconds", "count"),
      durationSum: await of("capstan_job_duration_seconds", "sum"),
      finished: (await value(m.registry, "capstan_jobs_finished_total", { type: "health_check", status: final.status })) ?? 0,
    }).toEqual(expected);
  });
});

describe("cluster gauges", () => {
  const fleet = [
    node("a", "online"),
    node("b", "online", { draining: true }),
    node("c", "offline"),
    node("d", "online", { agentKind: "rest" }),
    node("e", "offline", { agentKind: "rest" }),
  ];
  const chunks: ChunkFigures = { totalChunks: 10, totalReplicas: 25, totalBytes: 4096, underReplicated: 3, overReplicated: 1, zeroReplicated: 2, pendingCommands: 4 };
  const jobs = [newJob({ nodeId: "a", payload: { type: "health_check" } }, new Date()), newJob({ nodeId: "a", payload: { type: "evict_chunk", chunkId: "c1" } }, new Date())];
  const fleetSources = sources({
    nodes: () => fleet,
    sessions: () => [{ protocol: "grpc" }, { protocol: "grpc" }, { protocol: "ws-orion" }],
    unfinishedJobs: () => jobs,
    chunks: () => chunks,
    unplaceable: () => 7,
  });

  it("read nodes by status, agents by protocol, unfinished jobs, chunk figures and unplaceable replicas at scrape time", async () => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    m.watch(fleetSources);
    const r = m.registry;
    expect(await value(r, "capstan_nodes", { status: "online", schedulable: "true" })).toBe(2);
    expect(await value(r, "capstan_nodes", { status: "online", schedulable: "false" })).toBe(1);
    expect(await value(r, "capstan_nodes", { status: "offline", schedulable: "true" })).toBe(2);
    expect(await value(r, "capstan_agents_connected", { protocol: "grpc" })).toBe(2);
    expect(await value(r, "capstan_agents_connected", { protocol: "ws-orion" })).toBe(1);
    expect(await value(r, "capstan_agents_connected", { protocol: "ws-instadeploy" })).toBe(0);
    expect(await value(r, "capstan_agents_connected", { protocol: "rest" })).toBe(1);
    expect(await value(r, "capstan_jobs", { type: "health_check", status: "queued" })).toBe(1);
    expect(await value(r, "capstan_jobs", { type: "launch_replica", status: "in_progress" })).toBe(0);
    expect(await value(r, "capstan_replicas_unplaceable")).toBe(7);
    const text = await r.metrics();
    for (const line of ["capstan_chunks 10", "capstan_chunk_locations 25", "capstan_chunk_bytes 4096", "capstan_chunks_under_replicated 3", "capstan_chunks_over_replicated 1", "capstan_chunks_zero_replicated 2", "capstan_chunk_commands_pending 4"]) {
      const [name, v] = line.split(" ");
      expect(text).toContain(`${name}{replica="r"} ${v}\n`);
    }
  });

  it("are left out on a replica that does not report cluster gauges, where only its own agent streams count", async () => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => false });
    m.watch(fleetSources);
    const text = await m.registry.metrics();
    for (const name of ["capstan_nodes", "capstan_jobs", "capstan_replicas_unplaceable", "capstan_chunks", "capstan_chunks_under_replicated", "capstan_chunk_commands_pending"]) {
      expect(text).not.toMatch(new RegExp(`^${name}\\{`, "m"));
    }
    expect(await value(m.registry, "capstan_agents_connected", { protocol: "grpc" })).toBe(2);
    expect(await value(m.registry, "capstan_agents_connected", { protocol: "rest" })).toBeUndefined();
    expect(await value(m.registry, "capstan_cluster_gauges_reporter")).toBe(0);
  });

  it("read the chunk index once per scrape for all its gauges", async () => {
    let reads = 0;
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    m.watch(sources({ chunks: () => (reads++, chunks) }));
    await m.registry.metrics();
    expect(reads).toBe(1);
  });
});

describe("store write metrics", () => {
  class Repo {
    constructor(private readonly fail: unknown) {}
    async listThings(): Promise<string[]> {
      if (this.fail) throw this.fail;
      return [];
    }
    async save(): Promise<void> {
      if (this.fail) throw this.fail;
    }
  }
  const full = { name: "PrismaClientKnownRequestError", code: "P2010", meta: { driverAdapterError: { cause: { kind: "sqlite", originalCode: "SQLITE_FULL" } } } };

  it("time every write by repository and method, count failures by kind, and leave reads out", async () => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    const ok = faultAware(new Repo(undefined), new StoreHealth(), m.store, "things");
    await ok.save();
    await ok.listThings();
    await faultAware(new Repo(full), new StoreHealth(), m.store, "things").save().catch(() => {});
    await faultAware(new Repo(new TypeError("a bug")), new StoreHealth(), m.store, "things").save().catch(() => {});
    const writes = (await samples(m.registry, "capstan_store_write_seconds")).filter((s) => s.metricName === "capstan_store_write_seconds_count");
    expect(writes.map((s) => [s.labels.op, s.value])).toEqual([["things.save", 3]]);
    expect(await value(m.registry, "capstan_store_write_failures_total", { op: "things.save", kind: "unavailable" })).toBe(1);
    expect(await value(m.registry, "capstan_store_write_failures_total", { op: "things.save", kind: "error" })).toBe(1);
  });
});

describe("reconcile metrics", () => {
  it("time passes by outcome", async () => {
    const m = createAppMetrics({ replica: "r", reportsClusterGauges: () => true });
    m.reconcilePass({ seconds: 0.2, unplaceable: 3, failed: false });
    m.reconcilePass({ seconds: 0.4, unplaceable: 3, failed: true });
    const counts = (await samples(m.registry, "capstan_reconcile_pass_seconds")).filter((s) => s.metricName === "capstan_reconcile_pass_seconds_count");
    expect(counts.map((s) => [s.labels.outcome, s.value])).toEqual([["ok", 1], ["failed", 1]]);
  });
});
