/**
 * bench:placement — places 100,000 replicas onto 10,000 nodes with label
 * constraints, resource filters and spread scoring, and prints placements per
 * second and p99 decision time next to a naive first-fit baseline (scan every
 * node in order, take the first that fits), measured in the same run.
 * Target: at least 50,000 placements/s. Every decision is exact under the
 * strategy definitions (README), so the figure is for definition-true placement.
 *
 * The locality-on variant (chunk-aware placement) runs the same requests, each
 * listing CHUNKS_PER_SERVICE chunk ids, against a real ChunkIndex holding
 * LOCATIONS chunk locations (default 10 million: 1,000 per node, 3 copies of
 * each chunk), printed next to locality off from the same run.
 */
import { ChunkIndex } from "../src/chunks/chunk-index.js";
import { noRequirements, type PlacementRequirements } from "../src/model/placement.js";
import { FILTERS } from "../src/orchestrator/filters.js";
import { Placer } from "../src/orchestrator/placer.js";
import type { ChunkLocalityView, NodeSnapshot, ResourceAmounts } from "../src/orchestrator/snapshot.js";

const NODES = Number(process.env.NODES ?? 10_000);
const REPLICAS = Number(process.env.REPLICAS ?? 100_000);
const PER_SERVICE = 10;
const LOCATIONS = Number(process.env.LOCATIONS ?? 10_000_000);
const COPIES = 3;
const CHUNKS_PER_SERVICE = Number(process.env.CHUNKS_PER_SERVICE ?? 8);
const nodeId = (i: number) => `node-${String(i).padStart(5, "0")}`;
// Content hashes, as agents report them (64 hex digits: the index interns those into typed arrays).
const chunkId = (k: number) => k.toString(16).padStart(64, "0");

function cluster(): NodeSnapshot[] {
  const zones = ["a", "b", "c", "d"];
  return Array.from({ length: NODES }, (_, i) => ({
    id: nodeId(i),
    name: `node-${i}`,
    online: i % 50 !== 0,
    eligible: i % 97 !== 0,
    labels: { zone: zones[i % 4], tier: i % 3 === 0 ? "edge" : "core" },
    tags: new Set(i % 10 === 0 ? ["docker", "gpu"] : ["docker"]),
    dockerAvailable: true,
    dockerVersion: "24.0.7",
    capacity: { cpu: 32, memoryMb: 131072, diskMb: 1_000_000, gpus: i % 10 === 0 ? 2 : 0 },
    used: { cpu: (i % 7) * 2, memoryMb: (i % 5) * 4096, diskMb: 0, gpus: 0 },
    groups: {},
  }));
}

/** A real chunk index with LOCATIONS locations: chunk k on nodes k, k+1, k+2 (mod NODES) times a stride, 1 MiB to 64 MiB each. */
function chunkIndex(): { index: ChunkIndex; chunks: number } {
  const chunks = Math.floor(LOCATIONS / COPIES);
  const perNode: Array<Array<{ id: string; size: number }>> = Array.from({ length: NODES }, () => []);
  for (let k = 0; k < chunks; k++) {
    const c = { id: chunkId(k), size: (1 + (k % 64)) << 20 };
    for (let r = 0; r < COPIES; r++) perNode[(k + r * 3331) % NODES].push(c);
  }
  const index = new ChunkIndex(COPIES);
  for (let n = 0; n < NODES; n++) {
    index.fullReport(nodeId(n), perNode[n]);
    perNode[n] = [];
  }
  return { index, chunks };
}

function requirements(service: number, chunks = 0): PlacementRequirements {
  const chunkIds = chunks === 0 ? [] : Array.from({ length: CHUNKS_PER_SERVICE }, (_, i) => chunkId((service * 7919 + i * 104_729) % chunks));
  return {
    ...noRequirements(),
    chunkIds,
    resources: { cpu: 0.25, memoryMb: 256, diskMb: 100, gpus: 0 },
    constraints: [{ key: "tier", operator: service % 2 ? "=" : "!=", values: ["edge"] }],
    strategy: service % 3 === 0 ? "binpack" : "spread",
    spreadLabel: "zone",
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Placements per CPU-second of this process: on a shared machine wall time also measures the other tenants. */
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

function runCapstan(view?: ChunkLocalityView, chunks = 0): { perSec: number; perCpuSec: number; p99Us: number; placed: number } {
  const placer = new Placer({ nodes: cluster(), chunks: view });
  const times = new Float64Array(REPLICAS / PER_SERVICE);
  let placed = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let s = 0; s < REPLICAS / PER_SERVICE; s++) {
    const t0 = performance.now();
    placed += placer.place({ requirements: requirements(s, chunks), count: PER_SERVICE, group: `svc-${s}` }).placements.length;
    times[s] = ((performance.now() - t0) * 1000) / PER_SERVICE;
  }
  const secs = (performance.now() - start) / 1000;
  const perCpuSec = placed / cpuSeconds(cpu);
  times.sort();
  return { perSec: placed / secs, perCpuSec, p99Us: percentile(times, 0.99), placed };
}

function runFirstFit(): { perSec: number; perCpuSec: number; p99Us: number; placed: number } {
  const nodes = cluster();
  const used = new Map<string, ResourceAmounts>();
  const times = new Float64Array(REPLICAS);
  let placed = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let r = 0; r < REPLICAS; r++) {
    const req = requirements(Math.floor(r / PER_SERVICE));
    const t0 = performance.now();
    for (const node of nodes) {
      const u = used.get(node.id) ?? node.used;
      if (FILTERS.every((f) => f.check(node, req, u) === undefined)) {
        const x = req.resources;
        used.set(node.id, { cpu: u.cpu + x.cpu, memoryMb: u.memoryMb + x.memoryMb, diskMb: u.diskMb + x.diskMb, gpus: u.gpus });
        placed++;
        break;
      }
    }
    times[r] = (performance.now() - t0) * 1000;
  }
  const secs = (performance.now() - start) / 1000;
  const perCpuSec = placed / cpuSeconds(cpu);
  times.sort();
  return { perSec: placed / secs, perCpuSec, p99Us: percentile(times, 0.99), placed };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const built = performance.now();
const { index, chunks } = chunkIndex();
const buildSecs = (performance.now() - built) / 1000;
const capstan = runCapstan();
const located = runCapstan(index, chunks);
const baseline = runFirstFit();
console.log(`bench:placement  ${fmt(REPLICAS)} replicas onto ${fmt(NODES)} nodes (constraints, resources, spread/binpack scoring)`);
console.log(`  capstan placer     ${fmt(capstan.perSec).padStart(10)} placements/s (${fmt(capstan.perCpuSec)} per CPU-second)   p99 ${capstan.p99Us.toFixed(1)} µs/decision   placed ${fmt(capstan.placed)}`);
console.log(`  capstan, locality ${fmt(located.perSec).padStart(10)} placements/s (${fmt(located.perCpuSec)} per CPU-second)   p99 ${located.p99Us.toFixed(1)} µs/decision   placed ${fmt(located.placed)}   (${CHUNKS_PER_SERVICE} chunk ids per service; index of ${fmt(index.stats().locations)} locations built in ${buildSecs.toFixed(1)} s)`);
console.log(`  first-fit baseline ${fmt(baseline.perSec).padStart(10)} placements/s (${fmt(baseline.perCpuSec)} per CPU-second)   p99 ${baseline.p99Us.toFixed(1)} µs/decision   placed ${fmt(baseline.placed)}`);
console.log(`  target ≥ 50,000 placements/s: ${capstan.perSec >= 50_000 ? "met" : "NOT met"} (${(capstan.perSec / baseline.perSec).toFixed(2)}× baseline); locality on: ${located.perSec >= 50_000 ? "met" : "NOT met"}`);
