/**
 * bench:chunks — NODES nodes (default 1,000) each full-reporting PER_NODE
 * chunks (default 10,000; every chunk on 3 nodes: 10 million locations), then
 * batched location queries. Prints ingest rate, lookup throughput in process
 * and over the real gRPC path (batches of 100, load from h2load), memory per location, and one
 * replication-monitor pass over 1 million chunks, each next to a plain
 * Map<string, Set<string>> index doing the same work in the same run; the RPC
 * figure next to a bare connect-node handler answering the same response.
 * Targets: ingest ≥ 1,000,000 locations/s, ≥ 500,000 chunk ids/s looked up
 * over the RPC, < 100 bytes per location. Run with --expose-gc.
 *
 * The cost of Prometheus metrics: the RPC lookups also go to a second server
 * with METRICS=off holding the same reports, alternating with the first
 * (metrics on); goal: on ≥ 0.95 × off. And one scrape of GET /metrics on the
 * server with the reports, timed.
 */
import { createClient } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChunkIndexService, GetChunkLocationsRequestSchema } from "../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { grpcFrame, h2loadGrpc } from "./load-tools.js";
import { NodeService } from "../gen/proto/capstan/v1/node_service_pb.js";
import { startApp } from "../src/app/app.js";
import { ChunkIndex } from "../src/chunks/chunk-index.js";
import { planReplication } from "../src/chunks/replication-planner.js";
import { loadConfig } from "../src/config/config.js";

const NODES = Number(process.env.NODES ?? 1000);
const PER_NODE = Number(process.env.PER_NODE ?? 10_000);
const UNIQUE = Math.floor((NODES * PER_NODE) / 3);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

const SUFFIX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15";
/** A 64-hex-character id for chunk j (a stand-in for its SHA-256). */
const chunkId = (j: number) => j.toString(16).padStart(8, "0") + SUFFIX;
/** Node i holds the chunks j with j mod NODES in {i, i-1, i-2}: each chunk on 3 nodes. */
function report(i: number): string[] {
  const out: string[] = [];
  for (let j = 0; j < UNIQUE; j++) {
    const r = j % NODES;
    if (r === i || r === (i + NODES - 1) % NODES || r === (i + NODES - 2) % NODES) out.push(chunkId(j));
  }
  return out;
}
// Reports are generated once per node (about PER_NODE strings each) and timed without generation.
function* reports(): Generator<[string, string[]]> {
  // Faster than filtering UNIQUE per node: walk the three residues directly.
  for (let i = 0; i < NODES; i++) {
    const ids: string[] = [];
    for (const r of [i, (i + NODES - 1) % NODES, (i + NODES - 2) % NODES]) for (let j = r; j < UNIQUE; j += NODES) ids.push(chunkId(j));
    yield [`node-${i}`, ids];
  }
}
void report;

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

function ingest<T>(index: T, put: (index: T, node: string, ids: string[]) => void): { rate: number; bytesPerLoc: number } {
  const before = heap();
  let ms = 0;
  let locs = 0;
  for (const [node, ids] of reports()) {
    const t = performance.now();
    put(index, node, ids);
    ms += performance.now() - t;
    locs += ids.length;
  }
  return { rate: locs / (ms / 1000), bytesPerLoc: (heap() - before) / locs };
}

function lookups(locate: (ids: string[]) => unknown): number {
  const batches = 2000;
  const ids = Array.from({ length: batches }, (_, b) => Array.from({ length: 100 }, (_, k) => chunkId((b * 7919 + k * 104729) % UNIQUE)));
  const t = performance.now();
  for (const batch of ids) locate(batch);
  return (batches * 100) / ((performance.now() - t) / 1000);
}

// The in-process phases run in functions: their indexes are garbage before the server starts,
// so the server's heap holds its own index only, as it would in production.
const inProcess = (() => {
  // Capstan's index.
  const index = new ChunkIndex(3);
  const ours = ingest(index, (idx, node, ids) => idx.fullReport(node, ids.map((id) => ({ id }))));
  const oursLookup = lookups((ids) => index.locate(ids));

  // Baseline: a plain Map<string, Set<string>> (chunk → nodes) plus node → chunks for replacement.
  const base = { chunks: new Map<string, Set<string>>(), nodes: new Map<string, Set<string>>() };
  const baseline = ingest(base, (b, node, ids) => {
    for (const old of b.nodes.get(node) ?? []) b.chunks.get(old)?.delete(node);
    b.nodes.set(node, new Set(ids));
    for (const id of ids) {
      let s = b.chunks.get(id);
      if (!s) b.chunks.set(id, (s = new Set()));
      s.add(node);
    }
  });
  const baseLookup = lookups((ids) => ids.map((id) => [...(base.chunks.get(id) ?? [])]));
  return { ours, oursLookup, baseline, baseLookup };
})();
const { ours, oursLookup, baseline, baseLookup } = inProcess;

const monitor = (() => {
  // Replication monitor: 1M chunks, each on 1 node with a target of 3, across 1,000 nodes in 4 zones.
  const mon = new ChunkIndex(3);
  for (let i = 0; i < 1000; i++) mon.fullReport(`m-${i}`, Array.from({ length: 1000 }, (_, k) => ({ id: chunkId(i * 1000 + k), size: 1 << 20 })));
  const monNodes = Array.from({ length: 1000 }, (_, i) => ({ id: `m-${i}`, online: true, eligible: true, zone: `z${i % 4}`, freeMb: 102400 - 1000 }));
  let t = performance.now();
  const mis = mon.misreplicatedNow();
  const commands = planReplication({ chunks: mis.chunks, nodes: monNodes, pending: new Set(), perNodeLimit: 10, load: () => 0 });
  const passMs = performance.now() - t;
  // Baseline pass: scan a Map<string, Set<string>> for chunks under target (no planning).
  const plain = new Map<string, Set<string>>();
  for (let i = 0; i < 1000; i++) for (let k = 0; k < 1000; k++) plain.set(chunkId(i * 1000 + k), new Set([`m-${i}`]));
  t = performance.now();
  let under = 0;
  for (const s of plain.values()) if (s.size < 3) under++;
  const plainMs = performance.now() - t;
  return { passMs, commands: commands.length, under: mis.under, plainMs, plainUnder: under };
})();
gc();

// Over the real RPC: a server with NODES/10 nodes' reports, gRPC lookups in batches of 100, 16 at a time.
const dir = mkdtempSync(join(tmpdir(), "capstan-bench-chunks-"));
// Authentication is on, as in production: reports go in with an admin token, lookups carry a
// node token (a cache node asking where chunks are); the per-client rate limit is off, since
// one load generator stands for a whole fleet.
const admin = randomBytes(24).toString("base64url");
const serve = (name: string, metrics: string) =>
  startApp(
    loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: `file:${join(dir, `${name}.db`)}`, LOG_LEVEL: "warn", HEARTBEAT_TTL: "1h", CHUNK_MONITOR_INTERVAL: "1h", CAPSTAN_ADMIN_TOKEN: admin, RATE_LIMIT: "0", METRICS: metrics }, false),
    pino({ level: "warn" }),
  );
const app = await serve("c", "on");
const appOff = await serve("off", "off");
let sample: string[] = [];
/** Registers NODES/10 nodes on a server and sends their full reports; returns the first node's token. */
async function load(url: string): Promise<string> {
  const transport = createGrpcTransport({ baseUrl: url, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${admin}`), next(req))] });
  const nodesClient = createClient(NodeService, transport);
  const chunksClient = createClient(ChunkIndexService, transport);
  let n = 0;
  let token = "";
  for (const [node, ids] of reports()) {
    if (n++ >= Math.max(1, NODES / 10)) break;
    token ||= (await nodesClient.registerNode({ nodeId: node, name: node })).nodeToken;
    if (n > 1) await nodesClient.registerNode({ nodeId: node, name: node });
    await chunksClient.reportChunks({ nodeId: node, chunkIds: ids });
    if (sample.length === 0) sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 100)) === 0).slice(0, 100);
  }
  return token;
}
const nodeToken = await load(app.url);
const nodeTokenOff = await load(appOff.url);
const chunksClient = createClient(ChunkIndexService, createGrpcTransport({ baseUrl: app.url, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${admin}`), next(req))] }));
// The load comes from h2load, a separate process, as a real client would: one batch of 100 ids, 16 streams on 4 connections.
const batch = create(GetChunkLocationsRequestSchema, { chunkIds: sample });
const located = await chunksClient.getChunkLocations(batch);
if (located.locations.some((l) => l.peerIds.length === 0)) throw new Error("benchmark batch has unknown chunks");
// The ceiling: a bare connect-node handler on its own HTTP/2 server answering the same response message, constant.
const bare = http2.createServer({}, connectNodeAdapter({ routes: (r) => r.service(ChunkIndexService, { getChunkLocations: () => located }) })).listen(0, "127.0.0.1");
await new Promise((r) => bare.once("listening", r));
const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
const frame = grpcFrame(toBinary(GetChunkLocationsRequestSchema, batch));
const RPC = "/capstan.v1.ChunkIndexService/GetChunkLocations";
/** Calls/s and the share of one core this process (the server) used meanwhile: h2load runs apart. */
async function h2(url: string, token = nodeToken): Promise<{ rps: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const rps = await h2loadGrpc(url + RPC, frame, 20_000, 4, 16, { authorization: `Bearer ${token}` });
  const used = process.cpuUsage(cpu);
  return { rps, cpu: (used.user + used.system) / 1000 / (performance.now() - t) };
}
// Alternate the two, 3 rounds, and take medians: the machine is noisy.
const runs = { capstan: [] as Array<{ rps: number; cpu: number }>, off: [] as Array<{ rps: number; cpu: number }>, bare: [] as Array<{ rps: number; cpu: number }> };
await h2(appOff.url, nodeTokenOff);
for (let round = 0; round < 3; round++) {
  // Which of on and off goes first alternates, so neither always follows the other.
  if (round % 2 === 0) runs.capstan.push(await h2(app.url)), runs.off.push(await h2(appOff.url, nodeTokenOff));
  else runs.off.push(await h2(appOff.url, nodeTokenOff)), runs.capstan.push(await h2(app.url));
  runs.bare.push(await h2(bareUrl));
}
const median = (xs: Array<{ rps: number; cpu: number }>) => [...xs].sort((a, b) => a.rps - b.rps)[1];
const rpc = median(runs.capstan);
const rpcOff = median(runs.off);
const rpcBare = median(runs.bare);
// One scrape of the server holding the reports, as Prometheus makes it (over HTTP, with a token).
const scrapeStart = performance.now();
const scrape = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
const scrapeBytes = (await scrape.text()).length;
const scrapeMs = performance.now() - scrapeStart;
if (scrape.status !== 200) throw new Error(`GET /metrics answered ${scrape.status}`);
bare.close();
await app.close();
await appOff.close();

const f = (x: number) => Math.round(x).toLocaleString("en-US");
console.log(`bench:chunks  ${f(NODES)} nodes × ${f(PER_NODE)} chunks = ${f(NODES * PER_NODE)} locations (${f(UNIQUE)} unique 64-hex ids, 3 copies each)`);
console.log(`  ingest (full reports)    capstan ${f(ours.rate).padStart(11)} locations/s   Map<string,Set> ${f(baseline.rate).padStart(11)} locations/s   (target ≥ 1,000,000)`);
console.log(`  memory per location      capstan ${ours.bytesPerLoc.toFixed(1).padStart(11)} bytes         Map<string,Set> ${baseline.bytesPerLoc.toFixed(1).padStart(11)} bytes         (target < 100)`);
console.log(`  lookup, in process       capstan ${f(oursLookup).padStart(11)} ids/s         Map<string,Set> ${f(baseLookup).padStart(11)} ids/s`);
console.log(`  lookup, gRPC (batch 100) capstan ${f(100 * rpc.rps).padStart(11)} ids/s         bare connect-node ${f(100 * rpcBare.rps).padStart(9)} ids/s   (target ≥ 500,000)`);
console.log(`                           h2load -c4 -m16, median of 3 alternating runs: ${f(rpc.rps)} vs ${f(rpcBare.rps)} calls/s; server process at ${(100 * rpc.cpu).toFixed(0)}% vs ${(100 * rpcBare.cpu).toFixed(0)}% of a core; ${f(Math.max(1, NODES / 10))} nodes' reports in the server`);
console.log(`  metrics on/off, gRPC     on ${f(rpc.rps).padStart(8)} calls/s   off (METRICS=off) ${f(rpcOff.rps).padStart(8)} calls/s   on/off ${(rpc.rps / rpcOff.rps).toFixed(3)}   (goal ≥ 0.95: ${rpc.rps / rpcOff.rps >= 0.95 ? "met" : "NOT met"}; median of 3 alternating runs)`);
console.log(`  one scrape of /metrics   ${scrapeMs.toFixed(1)} ms, ${f(scrapeBytes)} bytes, with ${f(Math.max(1, NODES / 10))} nodes' reports in the server`);
console.log(`  monitor pass, 1M chunks  capstan ${monitor.passMs.toFixed(0).padStart(11)} ms (${f(monitor.commands)} commands, ${f(monitor.under)} under target)   Map<string,Set> scan only ${monitor.plainMs.toFixed(0)} ms (${f(monitor.plainUnder)} under)`);
process.exit(0);
