/**
 * bench:agents — N simulated agents (default 10,000) on gRPC bidi streams
 * against Capstan, next to the same against a bare connect-node stream server
 * that only welcomes and echoes, measured in the same run. Prints: time to
 * connect all; heartbeat handling p50/p99 under a 5 s heartbeat interval
 * (a probe's Heartbeat calls while every agent heartbeats on its stream); command
 * round trip p50/p99 (dispatch to COMPLETED, from the job's timestamps, and the
 * whole CreateDeployment → COMPLETED-seen-by-WatchJob path); server RSS at its
 * peak, through a steady phase after the probes (STEADY_SECONDS, 15). Targets:
 * 10,000 agents, heartbeat p99 < 20 ms, command p99 < 50 ms, RSS < 1 GiB.
 * The cost of Prometheus metrics: the same run against Capstan with
 * METRICS=off, each figure on and off with their ratio (goal: within 5%).
 * The probes run in a third process (bench/agents-probe.ts says why); the
 * agents that complete the commands stay here, so the command round trip still
 * includes this busy process's reaction time.
 */
import { create } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../gen/proto/capstan/v1/agent_service_pb.js";
import { JobStatus } from "../gen/proto/capstan/v1/job_pb.js";
import { AsyncQueue } from "../src/shared/async-queue.js";
import type { ProbeResult, ProbeTask } from "./agents-probe.js";
import { heartbeatLoop } from "./replica-agents.js";

/** `--agents N` (or AGENTS=N): fewer agents, for investigating; reported figures use the default. */
const agentsFlag = process.argv.indexOf("--agents");
const N = Number(agentsFlag >= 0 ? process.argv[agentsFlag + 1] : (process.env.AGENTS ?? 10_000));
const SESSIONS = Number(process.env.SESSIONS ?? 20);
const INTERVAL_MS = 5000;
const PROBES = Number(process.env.PROBES ?? 300);
const STEADY_MS = Number(process.env.STEADY_SECONDS ?? 15) * 1000;
// Authentication is on, as in production: the server is given this admin token and the probe
// (a child process, like the server) calls with it. Agents register with open registration.
process.env.BENCH_ADMIN_TOKEN ??= randomBytes(24).toString("base64url");

/**
 * Both servers run from compiled JavaScript, as the Dockerfile runs Capstan in
 * production (tsconfig.bench.json is the build's configuration plus the bench
 * server): through the tsx loader each would also carry the loader and its
 * transpiled sources, about 45 MiB, which production does not.
 */
function buildServers(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.bench.json"], { cwd: new URL("..", import.meta.url).pathname, stdio: "inherit" });
}

type ServerKind = "capstan" | "capstan-metrics-off" | "bare";

function startServer(kind: ServerKind): Promise<{ child: ChildProcess; port: number }> {
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): for investigating a figure.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, new URL("../dist/bench/agents-server.js", import.meta.url).pathname, kind], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      const m = /port (\d+)/.exec(String(d));
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once("exit", (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * The server's RSS, sampled every 200 ms from its start: a single reading
 * depends on how much garbage V8 holds at that moment (the heap grows between
 * full collections), so the peak is what is reported.
 */
function sampleRss(pid: number): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 200);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

interface Agent {
  outbox: AsyncQueue<AgentStreamRequest>;
  nodeId: string;
}

/** Opens N agent streams spread over SESSIONS HTTP/2 connections; resolves when every one is welcomed. */
async function connectAll(port: number, onCommand: (a: Agent, jobId: string) => void): Promise<{ agents: Agent[]; ms: number }> {
  const transports: Transport[] = Array.from({ length: SESSIONS }, () => createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const agents: Agent[] = [];
  const start = performance.now();
  let welcomed = 0;
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < N; i++) {
      const outbox = new AsyncQueue<AgentStreamRequest>();
      const agent: Agent = { outbox, nodeId: "" };
      agents.push(agent);
      outbox.push(create(AgentStreamRequestSchema, { message: { case: "hello", value: { name: `sim-${i}`, address: "10.0.0.1", capabilities: { docker: { available: true, version: "27.0.0" } }, tags: ["docker"] } } }));
      const client = createClient(AgentService, transports[i % SESSIONS]);
      void (async () => {
        for await (const res of client.agentStream(outbox)) {
          if (res.message.case === "welcome") {
            agent.nodeId = res.message.value.nodeId;
            if (++welcomed === N) resolve();
          } else if (res.message.case === "command") {
            onCommand(agent, res.message.value.jobId);
          }
        }
      })().catch(reject);
    }
  });
  return { agents, ms: performance.now() - start };
}

/** Runs bench/agents-probe.ts in a process of its own and returns what it measured. */
function runProbe(task: ProbeTask): Promise<ProbeResult> {
  const child = fork(new URL("./agents-probe.ts", import.meta.url).pathname, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (result) => resolve(result as ProbeResult));
    child.once("exit", (code) => reject(new Error(`probe exited with ${code}`)));
    child.send(task);
  });
}

/** Connects the agents, heartbeats them, probes from another process, then reads the server's RSS. */
async function bench(kind: ServerKind) {
  const { child, port } = await startServer(kind);
  const rss = sampleRss(child.pid as number);
  const { agents, ms } = await connectAll(port, (a, jobId) => {
    a.outbox.push(create(AgentStreamRequestSchema, { message: { case: "commandUpdate", value: { jobId, status: JobStatus.COMPLETED, exitCode: 0 } } }));
  });
  const stop = heartbeatLoop(agents, INTERVAL_MS);
  const nodeIds = agents.slice(0, PROBES).map((a) => a.nodeId);
  const result = await runProbe({ kind: kind === "bare" ? "bare" : "capstan", port, probes: PROBES, nodeIds, target: agents[0].nodeId });
  // Steady state: every agent heartbeats through a few more intervals while the RSS is sampled.
  await new Promise((r) => setTimeout(r, STEADY_MS));
  const peakRss = rss.stop();
  stop();
  if (process.env.BENCH_SERVER_NODE_ARGS) {
    // A profile is written only at a normal exit: the server exits on SIGINT.
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGINT");
    await exited;
  } else child.kill("SIGKILL");
  return { connectMs: ms, ...result, rss: peakRss };
}

const f = (n: number) => n.toFixed(1);
buildServers();
const capstan = await bench("capstan");
const off = await bench("capstan-metrics-off");
const bare = await bench("bare");
console.log(`bench:agents  ${N.toLocaleString("en-US")} agents on gRPC bidi streams over ${SESSIONS} HTTP/2 connections, heartbeat every 5 s`);
console.log(`  connect all        capstan ${f(capstan.connectMs / 1000)} s          bare echo ${f(bare.connectMs / 1000)} s`);
console.log(`  heartbeat p50/p99  capstan ${f(pct(capstan.hb, 0.5))}/${f(pct(capstan.hb, 0.99))} ms   bare echo round trip ${f(pct(bare.hb, 0.5))}/${f(pct(bare.hb, 0.99))} ms   (target p99 < 20 ms)`);
console.log(`  command p50/p99    capstan ${f(pct(capstan.rt, 0.5))}/${f(pct(capstan.rt, 0.99))} ms   bare echo round trip ${f(pct(bare.hb, 0.5))}/${f(pct(bare.hb, 0.99))} ms   (dispatch to COMPLETED, from the job's own timestamps; target p99 < 50 ms)`);
console.log(`  CreateDeployment → COMPLETED seen by WatchJob, p50/p99 ${f(pct(capstan.api, 0.5))}/${f(pct(capstan.api, 0.99))} ms (the whole API path, with its database writes)`);
console.log(`  server RSS, peak    capstan ${Math.round(capstan.rss)} MiB        bare echo ${Math.round(bare.rss)} MiB   (sampled every 200 ms from start to ${STEADY_MS / 1000} s after the probes; target < 1024 MiB)`);
// Times and memory: lower is better, so "off/on" is the figure that must stay ≥ 0.95 (on within 5% of off).
const cost = (name: string, on: number, without: number, unit: string) =>
  console.log(`  ${name.padEnd(19)} metrics on ${f(on).padStart(7)} ${unit}   off ${f(without).padStart(7)} ${unit}   on/off ${(on / without).toFixed(3)}`);
console.log("bench:agents  Prometheus metrics on (the figures above) against off (METRICS=off), each in its own server process, same run");
cost("connect all", capstan.connectMs / 1000, off.connectMs / 1000, "s ");
cost("heartbeat p50", pct(capstan.hb, 0.5), pct(off.hb, 0.5), "ms");
cost("heartbeat p99", pct(capstan.hb, 0.99), pct(off.hb, 0.99), "ms");
cost("command p50", pct(capstan.rt, 0.5), pct(off.rt, 0.5), "ms");
cost("command p99", pct(capstan.rt, 0.99), pct(off.rt, 0.99), "ms");
cost("API path p50", pct(capstan.api, 0.5), pct(off.api, 0.5), "ms");
cost("server RSS, peak", capstan.rss, off.rss, "MiB");
console.log("  goal: on within 5% of off (on/off ≤ 1.05) for connect time and RSS; latency percentiles of single runs move more than that between runs on this machine, so compare them across runs");
process.exit(0);
