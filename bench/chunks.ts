/**
 * bench:chunks — NODES nodes (default 1,000) each full-reporting PER_NODE
 * chunks (default 10,000; every chunk on 3 nodes: 10 million locations), then
 * batched location queries. Prints ingest rate, lookup throughput in process
 * and over the real gRPC path (batches of 100, load from h2load), memory per location, and one
 * replication-monitor pass over 1 million chunks, each next to a plain
 * Map<string, Set<string>> index doing the same work in the same run.
 * Targets: ingest ≥ 1,000,000 locations/s, ≥ 500,000 chunk ids/s looked up
 * over the RPC, < 100 bytes per location. Run with --expose-gc.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChunkIndexService, GetChunkLocationsRequestSchema } from "../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { grpcFrame, h2loadGrpc } from "./load-tools.js";
import { NodeService } from "../gen/proto/capstan/v1/node_service_pb.js";
import { startApp } from "../src/app.js";
import { ChunkIndex } from "../src/chunks/chunk-index.js";
import { planReplication } from "../src/chunks/replication-planner.js";
import { loadConfig } from "../src/config.js";
import { snap } from "../test/fakes/snapshots.js";

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
base.chunks.clear();
base.nodes.clear();

// Replication monitor: 1M chunks, each on 1 node with a target of 3, across 1,000 nodes in 4 zones.
const mon = new ChunkIndex(3);
for (let i = 0; i < 1000; i++) mon.fullReport(`m-${i}`, Array.from({ length: 1000 }, (_, k) => ({ id: chunkId(i * 1000 + k), size: 1 << 20 })));
const monNodes = Array.from({ length: 1000 }, (_, i) => snap(`m-${i}`, { labels: { zone: `z${i % 4}` } }));
let t = performance.now();
const mis = mon.misreplicatedNow();
const commands = planReplication({ chunks: mis.chunks, nodes: monNodes, pending: new Set(), perNodeLimit: 10, spreadLabel: "zone", load: () => 0 });
const passMs = performance.now() - t;
t = performance.now();
// Baseline pass: scan a Map<string, Set<string>> for chunks under target (no planning).
const plain = new Map<string, Set<string>>();
for (let i = 0; i < 1000; i++) for (let k = 0; k < 1000; k++) plain.set(chunkId(i * 1000 + k), new Set([`m-${i}`]));
t = performance.now();
let under = 0;
for (const s of plain.values()) if (s.size < 3) under++;
const plainMs = performance.now() - t;

// Over the real RPC: a server with NODES/10 nodes' reports, gRPC lookups in batches of 100, 16 at a time.
const dir = mkdtempSync(join(tmpdir(), "capstan-bench-chunks-"));
const app = await startApp(loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: `file:${join(dir, "c.db")}`, LOG_LEVEL: "warn", HEARTBEAT_TTL: "1h", CHUNK_MONITOR_INTERVAL: "1h" }, false), pino({ level: "warn" }));
const transport = createGrpcTransport({ baseUrl: app.url });
const nodesClient = createClient(NodeService, transport);
const chunksClient = createClient(ChunkIndexService, transport);
let n = 0;
let sample: string[] = [];
for (const [node, ids] of reports()) {
  if (n++ >= Math.max(1, NODES / 10)) break;
  await nodesClient.registerNode({ nodeId: node, name: node });
  await chunksClient.reportChunks({ nodeId: node, chunkIds: ids });
  if (sample.length === 0) sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 100)) === 0).slice(0, 100);
}
// The load comes from h2load, a separate process, as a real client would: one batch of 100 ids, 16 streams on 4 connections.
const batch = create(GetChunkLocationsRequestSchema, { chunkIds: sample });
const located = await chunksClient.getChunkLocations(batch);
if (located.locations.some((l) => l.peerIds.length === 0)) throw new Error("benchmark batch has unknown chunks");
const rpcRate = 100 * (await h2loadGrpc(`${app.url}/capstan.v1.ChunkIndexService/GetChunkLocations`, grpcFrame(toBinary(GetChunkLocationsRequestSchema, batch)), 20_000, 4, 16));
await app.close();

const f = (x: number) => Math.round(x).toLocaleString("en-US");
console.log(`bench:chunks  ${f(NODES)} nodes × ${f(PER_NODE)} chunks = ${f(NODES * PER_NODE)} locations (${f(UNIQUE)} unique 64-hex ids, 3 copies each)`);
console.log(`  ingest (full reports)    capstan ${f(ours.rate).padStart(11)} locations/s   Map<string,Set> ${f(baseline.rate).padStart(11)} locations/s   (target ≥ 1,000,000)`);
console.log(`  memory per location      capstan ${ours.bytesPerLoc.toFixed(1).padStart(11)} bytes         Map<string,Set> ${baseline.bytesPerLoc.toFixed(1).padStart(11)} bytes         (target < 100)`);
console.log(`  lookup, in process       capstan ${f(oursLookup).padStart(11)} ids/s         Map<string,Set> ${f(baseLookup).padStart(11)} ids/s`);
console.log(`  lookup, gRPC (batch 100) capstan ${f(rpcRate).padStart(11)} ids/s         (target ≥ 500,000; h2load, ${f(Math.max(1, NODES / 10))} nodes' reports loaded in the server)`);
console.log(`  monitor pass, 1M chunks  capstan ${passMs.toFixed(0).padStart(11)} ms (${f(commands.length)} commands, ${f(mis.under)} under target)   Map<string,Set> scan only ${plainMs.toFixed(0)} ms (${f(under)} under)`);
process.exit(0);
