import { Gauge, type Registry } from "prom-client";
import type { CommandType, Job, JobStatus } from "../model/job.js";
import type { Node } from "../model/node.js";

/** The chunk index's figures, as ChunkManager.metrics() gives them. */
export interface ChunkFigures {
  totalChunks: number;
  totalReplicas: number;
  totalBytes: number;
  underReplicated: number;
  overReplicated: number;
  zeroReplicated: number;
  pendingCommands: number;
}

/** Where the gauges read from, at scrape time: in-memory views, nothing that waits. */
export interface ClusterSources {
  nodes: () => Iterable<Node>;
  /** This process's live agent sessions ("grpc", "ws-instadeploy", "ws-orion"). */
  sessions: () => Iterable<{ readonly protocol: string }>;
  unfinishedJobs: () => Iterable<Job>;
  chunks: () => ChunkFigures;
  /** Replicas the last reconcile pass could not place. */
  unplaceable: () => number;
}

const JOB_TYPES: readonly CommandType[] = ["deploy_compose", "stop_compose", "status", "health_check", "launch_replica", "stop_replica", "replicate_chunk", "evict_chunk"];
const UNFINISHED: readonly JobStatus[] = ["queued", "dispatched", "in_progress"];
const SESSION_PROTOCOLS = ["grpc", "ws-instadeploy", "ws-orion"];

/**
 * Gauges read from memory when Prometheus scrapes (collect callbacks), so
 * nothing is updated on every change. Two kinds:
 * - per replica: agents connected on this process's streams (sum() across
 *   replicas gives the fleet);
 * - cluster-wide (nodes by status, REST agents, unfinished jobs, chunk
 *   replication, unplaceable replicas): every replica holds the same view, so
 *   only the one for which `reportsClusterGauges()` is true reports them (with
 *   several replicas, the leader or chunk owner; in one process, always
 *   true). Elsewhere they have no series, and a sum() counts them once.
 */
export function clusterGauges(registry: Registry, sources: ClusterSources, reportsClusterGauges: () => boolean): void {
  const registers = [registry];
  new Gauge({
    name: "capstan_cluster_gauges_reporter",
    help: "1 on the replica that reports the cluster-wide gauges (nodes, jobs, chunks, unplaceable replicas), 0 elsewhere.",
    registers,
    collect() {
      this.set(reportsClusterGauges() ? 1 : 0);
    },
  });
  new Gauge({
    name: "capstan_agents_connected",
    help: "Agents connected, by protocol: live streams on this replica (grpc, ws-instadeploy, ws-orion); rest: online nodes registered over REST (cluster-wide).",
    labelNames: ["protocol"],
    registers,
    collect() {
      this.reset();
      const counts = new Map(SESSION_PROTOCOLS.map((p) => [p, 0]));
      for (const s of sources.sessions()) counts.set(s.protocol, (counts.get(s.protocol) ?? 0) + 1);
      if (reportsClusterGauges()) {
        let rest = 0;
        for (const n of sources.nodes()) if (n.agentKind === "rest" && n.status === "online") rest++;
        counts.set("rest", rest);
      }
      for (const [protocol, n] of counts) this.set({ protocol }, n);
    },
  });
  new Gauge({
    name: "capstan_nodes",
    help: "Registered nodes, by status (online, offline) and whether they take new work (eligible: eligible and not draining).",
    labelNames: ["status", "schedulable"],
    registers,
    collect() {
      this.reset();
      if (!reportsClusterGauges()) return;
      const counts: Record<string, number> = { "online true": 0, "online false": 0, "offline true": 0, "offline false": 0 };
      for (const n of sources.nodes()) counts[`${n.status} ${n.eligibility === "eligible" && !n.draining}`]++;
      for (const [key, value] of Object.entries(counts)) {
        const [status, schedulable] = key.split(" ");
        this.set({ status, schedulable }, value);
      }
    },
  });
  new Gauge({
    name: "capstan_jobs",
    help: "Unfinished jobs, by type and status (queued, dispatched, in_progress); finished ones are capstan_jobs_finished_total.",
    labelNames: ["type", "status"],
    registers,
    collect() {
      this.reset();
      if (!reportsClusterGauges()) return;
      const counts = new Map<string, number>();
      for (const type of JOB_TYPES) for (const status of UNFINISHED) counts.set(`${type} ${status}`, 0);
      for (const j of sources.unfinishedJobs()) counts.set(`${j.type} ${j.status}`, (counts.get(`${j.type} ${j.status}`) ?? 0) + 1);
      for (const [key, value] of counts) {
        const [type, status] = key.split(" ");
        this.set({ type, status }, value);
      }
    },
  });
  new Gauge({
    name: "capstan_replicas_unplaceable",
    help: "Service replicas wanted that no node can take, as of the last reconcile pass.",
    registers,
    collect() {
      if (reportsClusterGauges()) this.set(sources.unplaceable());
      else this.remove();
    },
  });
  chunkGauges(registry, sources, reportsClusterGauges);
}

/** The chunk index's gauges (cluster-wide), read once per scrape. */
function chunkGauges(registry: Registry, sources: ClusterSources, reportsClusterGauges: () => boolean): void {
  const figures: Array<[string, string, keyof ChunkFigures]> = [
    ["capstan_chunks", "Chunks in the chunk index.", "totalChunks"],
    ["capstan_chunk_locations", "Chunk locations (chunk, node) in the index.", "totalReplicas"],
    ["capstan_chunk_bytes", "Bytes of the indexed chunks, each counted once.", "totalBytes"],
    ["capstan_chunks_under_replicated", "Chunks with fewer online copies than their target, as of the last replication pass.", "underReplicated"],
    ["capstan_chunks_over_replicated", "Chunks with more copies than their target, as of the last replication pass.", "overReplicated"],
    ["capstan_chunks_zero_replicated", "Chunks with no online copy, as of the last replication pass.", "zeroReplicated"],
    ["capstan_chunk_commands_pending", "Replication and eviction commands not yet finished.", "pendingCommands"],
  ];
  // One read of the index serves all seven gauges: a scrape runs their collect callbacks in one
  // turn of the event loop, and the figures are forgotten at the next.
  let current: ChunkFigures | undefined;
  const read = (): ChunkFigures => {
    if (!current) {
      current = sources.chunks();
      setImmediate(() => (current = undefined));
    }
    return current;
  };
  for (const [name, help, key] of figures) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        // remove(), not reset(): a gauge without labels resets to 0, which would be a series.
        if (reportsClusterGauges()) this.set(read()[key]);
        else this.remove();
      },
    });
  }
}
