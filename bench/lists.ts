/**
 * bench:lists — heartbeat latency while seed clients list a 50,000-node fleet.
 * The server (a child process: `lists.ts server`) starts on a store that
 * holds NODES nodes (default 50,000, written to the store before start-up, as
 * after a restart; every node online, the heartbeat TTL long enough that none
 * goes offline during the run). Then, in the same run:
 *  1. idle: HEARTBEATERS nodes send Heartbeat RPCs (gRPC, each with its own
 *     node token) for PHASE_SECONDS (10);
 *  2. lists: the same heartbeats while 8 clients each list the seeds' unpaged
 *     paths (GET /api/nodes, /agents, /api/v1/nodes, each client starting at
 *     its own, with an admin token), LISTS_PER_CLIENT (1) each, back to back,
 *     counting the items each answer carries; heartbeats go on until the last
 *     list ends.
 * Prints heartbeat p50/p99 for both phases, the lists served (time, size,
 * items), the server's CPU time per list and peak RSS, and whether p99 under lists is within
 * max(10 × idle p99, 250 ms). The rate limit is the default (200 calls/s per
 * client): a list is charged once, however many slices it is served in.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { NodeService } from "../gen/proto/capstan/v1/node_service_pb.js";
import { startApp } from "../src/app/app.js";
import { loadConfig } from "../src/config/config.js";
import { emptyCapabilities, type Node } from "../src/model/node.js";
import { hashToken } from "../src/model/tokens.js";
import { openDatabase } from "../src/store/database.js";
import type { Db } from "../src/store/db.js";
import { PrismaNodeStore } from "../src/store/node-repository.js";

const NODES = Number(process.env.NODES ?? 50_000);
const HEARTBEATERS = Number(process.env.HEARTBEATERS ?? 20);
const PHASE_MS = Number(process.env.PHASE_SECONDS ?? 10) * 1000;
const LISTERS = 8;
const LISTS_PER_CLIENT = Number(process.env.LISTS_PER_CLIENT ?? 1);
const PATHS = ["/api/nodes", "/agents", "/api/v1/nodes"];
const ADMIN = "bench-lists-admin-token-0123456789";
const nodeId = (i: number) => `bn-${String(i).padStart(6, "0")}`;
const nodeToken = (i: number) => `bench-node-token-${i}`;

/** The server side: fill the store, start Capstan on it, print its port. */
async function serve(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "capstan-bench-lists-"));
  const url = `file:${join(dir, "c.db")}`;
  const logger = pino({ level: "warn" });
  const db = await openDatabase(url, logger);
  const now = new Date();
  // The store's own insert, 5,000 nodes per transaction (one commit each, not one per node).
  for (let i = 0; i < NODES; i += 5000) {
    await db.prisma.$transaction(
      async (tx) => {
        // Seeded before any server reads the feed: no change rows needed.
        const store = new PrismaNodeStore({ db: tx as Db, write: (w) => w(tx as Db, () => {}) }, db.provider);
        for (let j = i; j < Math.min(i + 5000, NODES); j++) await store.insert(fleetNode(j, now));
      },
      { timeout: 120_000 },
    );
  }
  await db.close();
  const config = loadConfig(
    { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: url, HEARTBEAT_TTL: "1h", LOG_LEVEL: "warn", CAPSTAN_ADMIN_TOKEN: ADMIN },
    false,
  );
  const app = await startApp(config, logger);
  console.log(`port ${app.port}`);
}

function fleetNode(i: number, now: Date): Node {
  return {
    id: nodeId(i),
    name: `host-${i}.fleet.example`,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    labels: { zone: `zone-${i % 8}`, arch: i % 5 === 0 ? "arm64" : "amd64" },
    tags: ["docker"],
    capabilities: { ...emptyCapabilities(), os: "linux", arch: "x86_64", cpuCount: 8, memMb: 32_768, diskMb: 512_000 },
    ports: { p2p: 7000, http: 8080 },
    status: "online",
    eligibility: "eligible",
    draining: false,
    agentVersion: "1.4.2",
    tokenHash: hashToken(nodeToken(i)),
    anonymous: false,
    agentKind: "rest",
    metrics: undefined,
    lastHeartbeatAt: now,
    createdAt: now,
    updatedAt: now,
  };
}

function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname, "server"], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODES: String(NODES) } });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      const m = /port (\d+)/.exec(String(d));
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Heartbeat round trips (ms) from HEARTBEATERS nodes, each sending one every 50 ms, until `until` says stop. */
async function heartbeats(port: number, until: () => boolean): Promise<number[]> {
  const client = createClient(NodeService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const samples: number[] = [];
  await Promise.all(
    Array.from({ length: HEARTBEATERS }, async (_, w) => {
      const i = Math.floor((w * NODES) / HEARTBEATERS);
      const headers = { authorization: `Bearer ${nodeToken(i)}` };
      while (!until()) {
        const t0 = performance.now();
        await client.heartbeat({ nodeId: nodeId(i), cpuUsage: 0.2, memUsage: 0.4, diskFreeMb: 1000 }, { headers });
        samples.push(performance.now() - t0);
        await pause(50);
      }
    }),
  );
  return samples;
}

interface ListResult {
  path: string;
  ms: number;
  bytes: number;
  items: number;
}

/** One unpaged GET, counting bytes and items (a node id per item) as the body streams, without parsing it. */
function listOnce(port: number, path: string): Promise<ListResult> {
  const marker = `"id":"bn-`;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: "127.0.0.1", port, path, headers: { authorization: `Bearer ${ADMIN}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
      let bytes = 0;
      let items = 0;
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        bytes += Buffer.byteLength(chunk);
        const text = tail + chunk;
        for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) items++;
        tail = text.slice(-(marker.length - 1));
      });
      res.on("end", () => resolve({ path, ms: performance.now() - t0, bytes, items }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function listers(port: number): Promise<ListResult[]> {
  const results: ListResult[] = [];
  await Promise.all(
    Array.from({ length: LISTERS }, async (_, c) => {
      for (let n = c; n < c + LISTS_PER_CLIENT; n++) results.push(await listOnce(port, PATHS[n % PATHS.length]));
    }),
  );
  return results;
}

/** CPU seconds the process has used (user + system). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const { child, port } = await startServer();
  console.log(`server up with ${NODES} nodes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid as number))), 200);
  try {
    // Warm-up: the first list and heartbeats load code paths once.
    await listOnce(port, PATHS[2]);
    const warm = Date.now() + 1000;
    await heartbeats(port, () => Date.now() > warm);
    const idlePeak = peak;
    const idleEnd = Date.now() + PHASE_MS;
    const idle = await heartbeats(port, () => Date.now() > idleEnd);
    let listing = true;
    const cpu0 = cpuSeconds(child.pid as number);
    const t1 = Date.now();
    const [busy, lists] = await Promise.all([
      heartbeats(port, () => !listing),
      listers(port).finally(() => (listing = false)),
    ]);
    const cpu = cpuSeconds(child.pid as number) - cpu0;
    const wall = (Date.now() - t1) / 1000;
    const f = (v: number) => v.toFixed(1);
    console.log(`heartbeats idle:       n=${idle.length} p50 ${f(pct(idle, 50))} ms, p99 ${f(pct(idle, 99))} ms, max ${f(Math.max(...idle))} ms`);
    console.log(`heartbeats with lists: n=${busy.length} p50 ${f(pct(busy, 50))} ms, p99 ${f(pct(busy, 99))} ms, max ${f(Math.max(...busy))} ms`);
    for (const path of PATHS) {
      const of = lists.filter((l) => l.path === path);
      const complete = of.every((l) => l.items === NODES);
      console.log(
        `GET ${path}: ${of.length} lists, p50 ${f(pct(of.map((l) => l.ms), 50))} ms, ${(of[0]?.bytes ?? 0) / 2 ** 20 > 0 ? ((of[0]?.bytes ?? 0) / 2 ** 20).toFixed(1) : "0"} MiB, every item in every list: ${complete}`,
      );
    }
    console.log(`list phase: ${lists.length} lists in ${wall.toFixed(1)} s; server CPU ${cpu.toFixed(1)} s (${((1000 * cpu) / lists.length).toFixed(0)} ms per list, heartbeats included)`);
    console.log(`server RSS: ${idlePeak.toFixed(0)} MiB before the lists, peak ${peak.toFixed(0)} MiB`);
    const goal = Math.max(10 * pct(idle, 99), 250);
    console.log(`goal: p99 with lists <= max(10 x idle p99, 250 ms) = ${f(goal)} ms: ${pct(busy, 99) <= goal ? "met" : "NOT met"}`);
  } finally {
    clearInterval(sampler);
    child.kill("SIGTERM");
  }
}

if (process.argv[2] === "server") await serve();
else await main();
