/**
 * bench:replicas: PostgreSQL, three Capstan replicas (real server processes)
 * and the load generator on this machine, next to one replica in the same
 * run. AGENTS simulated agents (default 300) spread over the replicas,
 * heartbeating every 5 s. Measured: command round trip p50/p99 (CreateDeployment
 * on a replica → the command at the agent, and → COMPLETED seen by WatchJob on
 * the creating replica), same-replica and cross-replica (created on A, agent on
 * B); read convergence lag p50/p99 (a node registered on A, polled on B every
 * 2 ms); Heartbeat RPC p50/p99; failover after SIGKILL and after SIGSTOP of
 * the leader (until a survivor's ListReplicas names another leader); and every
 * job delivered once, to its node. Goals (issue 13): cross-replica command p99
 * within 2x same-replica; convergence p99 < 1 s; failover < 10 s after SIGKILL;
 * no lost or duplicated job.
 *
 * Env: AGENTS (300), PROBES (100 per kind), LEADER_LEASE (the server's default,
 * 6s), TEST_DATABASE_URL (else scripts/ci/postgres.sh is run). The servers run
 * through tsx (as the e2e tests start them), not compiled.
 */
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { DeploymentService } from "../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../gen/proto/capstan/v1/job_pb.js";
import { NodeService } from "../gen/proto/capstan/v1/node_service_pb.js";
import { ReplicaService } from "../gen/proto/capstan/v1/replica_service_pb.js";
import { startReplicas, type ReplicaSet } from "../test/support/replicas.js";
import { connectFleet, type SimFleet } from "./replica-agents.js";

const AGENTS = Number(process.env.AGENTS ?? 300);
const PROBES = Number(process.env.PROBES ?? 100);
const LEASE = process.env.LEADER_LEASE ?? "6s";
process.env.TEST_DATABASE_URL ??= execFileSync("bash", ["scripts/ci/postgres.sh"], { encoding: "utf8" }).trim();
// The servers' settings: the defaults, with heartbeats flushed and expiring as in production.
const ENV = { LEADER_LEASE: LEASE, HEARTBEAT_TTL: "15s", HEARTBEAT_FLUSH_INTERVAL: "10s" };
const COMPOSE = "services:\n  a:\n    image: x\n";

const pct = (xs: number[], p: number) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]);
const f = (n: number) => (Number.isNaN(n) ? "n/a" : n.toFixed(1));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function clients(set: ReplicaSet, i: number) {
  const auth: Interceptor = (next) => (req) => (req.header.set("authorization", `Bearer ${set.adminToken}`), next(req));
  const t = createGrpcTransport({ baseUrl: set.replicas[i].url, interceptors: [auth] });
  return { deploy: createClient(DeploymentService, t), nodes: createClient(NodeService, t), replicas: createClient(ReplicaService, t) };
}

/** Jobs whose COMPLETED WatchJob did not show within 30 s (this run). */
const unseen: string[] = [];

interface Trip {
  deliver: number;
  complete: number;
}

/** One command: created on replica `via` for `nodeId`; times to the agent and to COMPLETED seen by WatchJob on `via`. */
async function commandTrip(set: ReplicaSet, fleet: SimFleet, via: number, nodeId: string, id: string, jobs: Map<string, string>): Promise<Trip | undefined> {
  const { deploy } = clients(set, via);
  const start = performance.now();
  const res = await deploy.createDeployment({ deploymentId: id, renderedCompose: COMPOSE, nodeId });
  jobs.set(res.jobId, nodeId);
  const arrived = fleet.arrival(res.jobId);
  const watch = new AbortController();
  const timer = setTimeout(() => watch.abort(), 30_000);
  try {
    for await (const ev of deploy.watchJob({ jobId: res.jobId }, { signal: watch.signal })) {
      if (ev.job?.status === JobStatus.COMPLETED) return { deliver: (await arrived) - start, complete: performance.now() - start };
    }
  } catch {
    // Not completed within 30 s: counted as lost, and its status on every replica printed.
  } finally {
    clearTimeout(timer);
  }
  unseen.push(res.jobId);
  return undefined;
}

/** Polls replica `to` until a node registered on `from` is found: the lag after the registration's answer. */
async function convergence(set: ReplicaSet, from: number, to: number, name: string): Promise<number> {
  const reg = await clients(set, from).nodes.registerNode({ name });
  const answered = performance.now();
  const reader = clients(set, to).nodes;
  for (;;) {
    const found = await reader.getNode({ nodeId: reg.node!.id }).then(() => true, () => false);
    if (found) return performance.now() - answered;
    if (performance.now() - answered > 30_000) return Infinity;
    await pause(2);
  }
}

async function leaderSeenBy(set: ReplicaSet, i: number): Promise<string | undefined> {
  const list = await clients(set, i).replicas.listReplicas({}, { timeoutMs: 2_000 }).catch(() => undefined);
  return list?.replicas.find((r) => r.leader)?.id;
}

/** Signals the leader and times until a survivor names another one. */
async function failover(set: ReplicaSet, how: "SIGKILL" | "SIGSTOP"): Promise<number> {
  const live = () => [0, 1, 2].filter((i) => set.replicas[i].alive());
  let oldId: string | undefined;
  while (!(oldId = await leaderSeenBy(set, live()[0]))) await pause(100);
  const old = Number(oldId.slice(1));
  const witness = live().find((i) => i !== old)!;
  const t = performance.now();
  if (how === "SIGKILL") await set.replicas[old].kill("SIGKILL");
  else set.replicas[old].signal("SIGSTOP");
  for (;;) {
    const now = await leaderSeenBy(set, witness);
    if (now && now !== oldId) break;
    await pause(50);
  }
  const ms = performance.now() - t;
  if (how === "SIGSTOP") set.replicas[old].signal("SIGCONT");
  return ms;
}

interface Figures {
  same: Trip[];
  cross: Trip[];
  lag: number[];
  hb: number[];
  lost: number;
  duplicated: number;
  misdelivered: number;
  /** Jobs no agent received; agent streams that ended before the failovers. */
  undelivered: number;
  brokenBefore: number;
  kill?: number;
  stop?: number;
  /** Agent streams refused before their welcome (tried again), and the servers' distinct error logs. */
  refused: string[];
  errors: string[];
  /** Jobs not seen COMPLETED in time, with each replica's status for them. */
  stuck: string[];
}

/** The distinct error-level log lines of the set's replicas (message and error), with counts. */
function serverErrors(set: ReplicaSet): string[] {
  const seen = new Map<string, number>();
  for (const r of set.replicas)
    for (const line of r.logs) {
      try {
        const e = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
        if ((e.level ?? 0) < 50) continue;
        const key = `${e.msg ?? ""}: ${e.err?.message?.split("\n")[0] ?? ""}`.slice(0, 200);
        seen.set(key, (seen.get(key) ?? 0) + 1);
      } catch {
        // not a log line
      }
    }
  return [...seen].map(([k, n]) => `${n} × ${k}`);
}

async function run(count: number): Promise<Figures> {
  const set = await startReplicas(count, ENV);
  const step = (what: string) => console.error(`bench:replicas [${count} replica${count > 1 ? "s" : ""}] ${what}`);
  try {
    step(`connecting ${AGENTS} agents`);
    const fleet = await connectFleet(set.replicas.map((r) => r.url), AGENTS, 4, `sim${count}`);
    step("command round trips");
    const onReplica = (r: number) => fleet.agents.filter((a) => a.replica === r);
    const jobs = new Map<string, string>();
    const same: Trip[] = [];
    const cross: Trip[] = [];
    let lost = 0;
    for (let i = 0; i < PROBES; i++) {
      const via = i % count;
      const home = onReplica(via);
      const far = onReplica((via + 1) % count);
      const s = await commandTrip(set, fleet, via, home[i % home.length].nodeId, `same-${i}`, jobs);
      if (s) same.push(s);
      else lost++;
      if (count > 1) {
        const c = await commandTrip(set, fleet, via, far[i % far.length].nodeId, `cross-${i}`, jobs);
        if (c) cross.push(c);
        else lost++;
      }
    }
    step("read convergence");
    const lag: number[] = [];
    for (let i = 0; i < PROBES; i++) lag.push(await convergence(set, i % count, (i + 1) % count, `conv-${i}`));
    step("heartbeats");
    const hb: number[] = [];
    for (let i = 0; i < PROBES; i++) {
      const a = fleet.agents[i % fleet.agents.length];
      const t = performance.now();
      await clients(set, a.replica).nodes.heartbeat({ nodeId: a.nodeId, cpuUsage: 5 });
      hb.push(performance.now() - t);
    }
    // The agents' own record: each job delivered once, to the node it was for.
    let duplicated = 0;
    let undelivered = 0;
    let misdelivered = 0;
    for (const [jobId, nodeId] of jobs) {
      const got = fleet.received.get(jobId) ?? [];
      if (got.length === 0) undelivered++;
      if (got.length > 1) duplicated++;
      if (got.some((g) => g.nodeId !== nodeId)) misdelivered++;
    }
    // What each replica says of a job whose completion its creator's WatchJob did not show.
    const stuck = await Promise.all(
      unseen.splice(0).map(async (jobId) => {
        const seen = await Promise.all(set.replicas.map((_, i) => clients(set, i).deploy.getJob({ jobId }).then((r) => JobStatus[r.job?.status ?? 0], (e: unknown) => String(e))));
        return `${jobId} (delivered ${fleet.received.get(jobId)?.length ?? 0}×): ${seen.map((st, i) => `r${i} ${st}`).join(", ")}`;
      }),
    );
    const figures: Figures = { same, cross, lag, hb, lost, duplicated, misdelivered, undelivered, brokenBefore: fleet.broken.length, refused: fleet.failures, errors: serverErrors(set), stuck };
    if (count > 1) {
      step("failover");
      figures.kill = await failover(set, "SIGKILL");
      figures.stop = await failover(set, "SIGSTOP");
    }
    fleet.stop();
    return figures;
  } finally {
    for (const r of set.replicas) r.signal("SIGCONT");
    await set.stop();
  }
}

const one = await run(1);
const three = await run(3);
const p = (xs: number[]) => `${f(pct(xs, 0.5))}/${f(pct(xs, 0.99))} ms`;
const trip = (xs: Trip[], k: keyof Trip) => p(xs.map((x) => x[k]));
const ratio = pct(three.cross.map((x) => x.complete), 0.99) / pct(three.same.map((x) => x.complete), 0.99);
console.log(`bench:replicas  ${AGENTS} simulated agents (gRPC streams, heartbeat every 5 s) spread over the replicas, ${PROBES} probes of each kind, PostgreSQL, LEADER_LEASE=${LEASE}`);
console.log(`  load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")} (${(await import("node:os")).cpus().length} cores)`);
console.log("                                              three replicas          one replica");
console.log(`  command → agent, same replica, p50/p99      ${trip(three.same, "deliver").padEnd(22)}  ${trip(one.same, "deliver")}`);
console.log(`  command → agent, cross replica, p50/p99     ${trip(three.cross, "deliver").padEnd(22)}  -`);
console.log(`  command round trip, same replica, p50/p99   ${trip(three.same, "complete").padEnd(22)}  ${trip(one.same, "complete")}   (CreateDeployment → COMPLETED seen by WatchJob)`);
console.log(`  command round trip, cross replica, p50/p99  ${trip(three.cross, "complete").padEnd(22)}  -   (cross p99 / same p99 = ${ratio.toFixed(2)}; goal ≤ 2)`);
console.log(`  read convergence lag, p50/p99               ${p(three.lag).padEnd(22)}  ${p(one.lag)}   (goal p99 < 1000 ms; one replica: its own write)`);
console.log(`  Heartbeat RPC, p50/p99                      ${p(three.hb).padEnd(22)}  ${p(one.hb)}`);
console.log(`  failover after SIGKILL of the leader        ${f(three.kill ?? NaN)} ms   (goal < 10000 ms)`);
console.log(`  failover after SIGSTOP of the leader        ${f(three.stop ?? NaN)} ms`);
for (const [name, r] of [["three replicas", three], ["one replica", one]] as const) {
  console.log(`  jobs (${name}): ${r.same.length + r.cross.length} seen COMPLETED, ${r.lost} not within 30 s, ${r.undelivered} never delivered, ${r.duplicated} delivered twice, ${r.misdelivered} to the wrong node (goal 0 lost or duplicated)`);
  console.log(`  agent streams ended by the server before the failovers (${name}): ${r.brokenBefore}`);
  console.log(`  agent streams refused before their welcome (${name}; tried again): ${r.refused.length}${r.refused.length ? ` (${[...new Set(r.refused)].slice(0, 3).join("; ")})` : ""}`);
  for (const j of r.stuck) console.log(`  not seen COMPLETED in 30 s (${name}): ${j}`);
  for (const e of r.errors.slice(0, 5)) console.log(`  server error log (${name}): ${e}`);
}
process.exit(0);
