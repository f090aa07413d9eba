import type { Logger } from "pino";
import type { ChunkReportInput } from "../model/chunk-report.js";
import type { ChunkCaller, ChunkEntry, ChunkIndexPort, ChunkMetrics, Location, NodeChunks } from "../model/chunk-index-port.js";
import type { JobLifecycle } from "../model/job-lifecycle.js";
import type { ChunkTargetStore } from "../model/chunk-target-store.js";
import { InvalidArgumentError, NotLeaderError } from "../model/errors.js";
import type { Leadership } from "../model/leadership.js";
import type { Job } from "../model/job.js";
import type { Node } from "../model/node.js";
import type { NodeRegistry } from "./node-registry.js";
import type { NodeState } from "../state/node-state.js";
import type { ChunkIndex } from "../chunks/chunk-index.js";
import { planReplication, type ChunkNode } from "../chunks/replication-planner.js";

/** Chunk manager settings. */
export interface ChunkOptions {
  heartbeatTtlMs: number;
  /** Offline this long past the TTL, a node's locations are dropped (and re-replicated). */
  graceMs: number;
  intervalMs: number;
  perNodeLimit: number;
  spreadLabel: string;
  /**
   * The replication monitor runs only while this replica leads (the leader
   * owns the chunk index for now), its commands fenced decisions; absent, always.
   */
  leadership?: Leadership;
}

const CHUNK_COMMANDS: ReadonlySet<Job["type"]> = new Set(["replicate_chunk", "evict_chunk"]);
const CHUNK_ID = /^[\x21-\x7e]{1,256}$/;

export type { Location } from "../model/chunk-index-port.js";

/**
 * The chunk index's runner: takes reports (REST, RPC, agent streams), answers
 * location queries from memory, follows node liveness (offline nodes hidden at
 * once, dropped after the grace period), and every interval turns the
 * planner's decisions into REPLICATE_CHUNK / EVICT_CHUNK jobs, which reach
 * nodes on their stream or through the pull path.
 */
export class ChunkManager implements ChunkIndexPort {
  private timer: NodeJS.Timeout | undefined;
  private counts = { under: 0, over: 0, zero: 0 };
  /** Until then the monitor plans nothing: a new owner waits for nodes' full reports (see restart). */
  private planFrom = 0;

  constructor(
    private readonly index: ChunkIndex,
    private readonly jobs: JobLifecycle,
    private readonly registry: NodeRegistry,
    private readonly nodes: NodeState,
    private readonly targets: ChunkTargetStore,
    private readonly options: ChunkOptions,
    private readonly logger: Logger,
  ) {}

  /** Loads the persisted targets, follows node status, starts the replication monitor. */
  async start(): Promise<void> {
    for (const t of await this.targets.list()) this.index.setTarget(t.chunkId, t.factor);
    this.nodes.onChange((c) => {
      if (c.heartbeat) return;
      if (c.type === "delete") this.index.dropNode(c.node.id);
      else this.index.setOnline(c.node.id, c.node.status === "online");
    });
    this.timer = setInterval(
      () =>
        void this.pass().catch((err: unknown) => {
          // Refused because another replica leads now: the leadership logged it and stepped down.
          if (!(err instanceof NotLeaderError)) this.logger.error({ err }, "replication pass failed");
        }),
      this.options.intervalMs,
    );
    this.timer.unref();
  }

  /** Stops the monitor. */
  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * A restart of the soft state, as a new chunk owner (or a replica that is
   * no longer the owner) does: every location is forgotten. With
   * `holdPlanningMs`, the replication monitor plans nothing for that long, so
   * that chunks whose holders have not re-reported yet are not taken for
   * lost and copied again (HDFS's safe mode, by time).
   */
  restart(holdPlanningMs = 0, now = Date.now()): void {
    this.index.clear();
    this.counts = { under: 0, over: 0, zero: 0 };
    this.planFrom = now + holdPlanningMs;
  }

  // The port (ChunkIndexPort): on the owner the caller needs nothing more than the guard checked.
  reportFull(_caller: ChunkCaller, nodeId: string, chunks: ChunkEntry[]): number {
    return this.fullReport(nodeId, chunks);
  }

  reportUpdate(_caller: ChunkCaller, nodeId: string, added: ChunkEntry[], removed: string[]): number {
    return this.update(nodeId, added, removed);
  }

  lookup(_caller: ChunkCaller, chunkIds: readonly string[]): Location[] {
    return this.locate(chunkIds);
  }

  clusterMetrics(): ChunkMetrics {
    return this.metrics();
  }

  nodeChunks(_caller: ChunkCaller, nodeIds: readonly string[], limit: number): NodeChunks[] {
    return nodeIds.map((nodeId) => {
      // Counted first: most nodes hold no chunks, and a list asks for every node.
      const total = this.index.countOf(nodeId);
      return { nodeId, ids: total === 0 ? [] : this.index.chunksOf(nodeId, limit), total };
    });
  }

  /** A report from an agent stream. */
  async report(nodeId: string, r: ChunkReportInput): Promise<void> {
    const chunks = r.chunks.map((c) => ({ id: c.chunkId, size: c.sizeBytes }));
    if (r.full) this.fullReport(nodeId, chunks);
    else this.update(nodeId, chunks, r.removedChunkIds);
  }

  /** Checks chunk ids a request names (e.g. `available_chunks` at registration), naming the field. */
  checkIds(ids: readonly string[], field: string): void {
    ids.forEach((id, i) => checkChunk(`${field}[${i}]`, id, 0));
  }

  /** Replaces a node's chunks; returns how many it holds. */
  fullReport(nodeId: string, chunks: Array<{ id: string; size: number }>): number {
    this.requireNode(nodeId);
    chunks.forEach((c, i) => checkChunk(`chunks[${i}]`, c.id, c.size));
    const count = this.index.fullReport(nodeId, chunks);
    this.index.setOnline(nodeId, this.registry.get(nodeId).status === "online");
    return count;
  }

  /** Adds and removes a node's chunks; returns how many it holds. */
  update(nodeId: string, added: Array<{ id: string; size: number }>, removed: string[]): number {
    this.requireNode(nodeId);
    added.forEach((c, i) => checkChunk(`added[${i}]`, c.id, c.size));
    removed.forEach((id, i) => checkChunk(`removed_chunk_ids[${i}]`, id, 0));
    return this.index.update(nodeId, added, removed);
  }

  /** Online holders per chunk, least loaded first; unknown chunks get none. */
  locate(chunkIds: readonly string[]): Location[] {
    if (chunkIds.length > 10_000) throw new InvalidArgumentError("chunk_ids", "must have at most 10000 entries");
    // The index asks for each holder's load once per query, not once per comparison.
    const sizes: number[] = new Array(chunkIds.length);
    const peers = this.index.locate(chunkIds, (id) => this.load(id), sizes);
    const out: Location[] = new Array(chunkIds.length);
    for (let i = 0; i < chunkIds.length; i++) {
      const holders: Node[] = [];
      for (const id of peers[i]) {
        const n = this.nodes.get(id);
        if (n) holders.push(n);
      }
      out[i] = { chunkId: chunkIds[i], peerIds: peers[i], holders, sizeBytes: sizes[i] };
    }
    return out;
  }

  /** Sets (or with 0, resets) a chunk's replication target. */
  async setTarget(chunkId: string, factor: number): Promise<number> {
    checkChunk("chunk_id", chunkId, 0);
    if (!Number.isInteger(factor) || factor < 0 || factor > 100) throw new InvalidArgumentError("replication_factor", "must be 0 (default) to 100");
    await this.targets.set(chunkId, factor);
    this.index.setTarget(chunkId, factor);
    return factor || this.index.defaultReplication;
  }

  /** Another replica set a chunk's replication target (read from the change feed). */
  applyRemoteTarget(chunkId: string, factor: number): void {
    this.index.setTarget(chunkId, factor);
  }

  /** Cluster figures; replication counts as of the last monitor pass. */
  metrics(): ChunkMetrics {
    const all = this.registry.all();
    const online = all.filter((n) => n.status === "online");
    const rates = online.map((n) => n.metrics?.cacheHitRate ?? 0).filter((r) => r > 0);
    const s = this.index.stats();
    return {
      totalNodes: all.length,
      activeNodes: online.length,
      offlineNodes: all.length - online.length,
      totalChunks: s.chunks,
      totalReplicas: s.locations,
      totalBytes: s.bytes,
      cacheHitRate: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : 0,
      underReplicated: this.counts.under,
      overReplicated: this.counts.over,
      zeroReplicated: this.counts.zero,
      pendingCommands: this.jobs.unfinished(CHUNK_COMMANDS).length,
    };
  }

  /** The pull path: commands waiting for a node. */
  pull(nodeId: string): Promise<Job[]> {
    this.requireNode(nodeId);
    return this.jobs.pull(nodeId, CHUNK_COMMANDS);
  }

  /** A node acknowledges a command. */
  acknowledge(nodeId: string, commandId: string, ok: boolean, error: string): Promise<Job> {
    this.requireNode(nodeId);
    return this.jobs.acknowledge(nodeId, commandId, ok, error);
  }

  /** One monitor round: drop nodes past their grace, then plan and send commands. */
  async pass(now = Date.now()): Promise<number> {
    const leadership = this.options.leadership;
    if (leadership && !leadership.isLeader()) return 0;
    if (now < this.planFrom) return 0;
    for (const n of this.registry.all()) {
      const silentFor = now - (n.lastHeartbeatAt?.getTime() ?? 0);
      if (n.status === "offline" && silentFor > this.options.heartbeatTtlMs + this.options.graceMs && this.index.countOf(n.id) > 0) {
        this.logger.info({ nodeId: n.id, chunks: this.index.countOf(n.id) }, "dropping locations of a node past its grace period");
        this.index.dropNode(n.id);
      }
    }
    const { chunks, under, over, zero } = this.index.misreplicatedNow();
    this.counts = { under, over, zero };
    if (chunks.length === 0) return 0;
    const pending = new Set(this.jobs.unfinished(CHUNK_COMMANDS).map((j) => (j.payload as { chunkId: string }).chunkId));
    const commands = planReplication({
      chunks,
      nodes: this.registry.all().filter((n) => this.index.knows(n.id) || n.ports.p2p !== undefined).map((n) => this.chunkNode(n)),
      pending,
      perNodeLimit: this.options.perNodeLimit,
      load: (id) => this.load(id),
    });
    for (const c of commands) {
      const source = this.nodes.get(c.sourceNodeId);
      const command = {
        nodeId: c.nodeId,
        payload:
          c.action === "replicate"
            ? { type: "replicate_chunk" as const, chunkId: c.chunkId, sourceNodeId: c.sourceNodeId, sourceAddress: source?.address ?? "", targetNodeId: c.targetNodeId, priority: c.priority }
            : { type: "evict_chunk" as const, chunkId: c.chunkId },
      };
      if (leadership) await leadership.decisions.transaction((tx) => this.jobs.submit(command, tx));
      else await this.jobs.submit(command);
    }
    if (commands.length) this.logger.info({ commands: commands.length, under, over }, "replication commands issued");
    return commands.length;
  }

  /**
   * A cache node for the planner. A node that never reported chunks (or only
   * registered with `available_chunks`) holds exactly what it reported. Its
   * room is the least of its free disk from heartbeats (`disk_free_mb`, or
   * its capacity less `disk_used_mb`) and its capacity less the bytes it holds.
   */
  private chunkNode(n: Node): ChunkNode {
    const capacity = n.capabilities.diskMb;
    const heldMb = this.index.bytesOf(n.id) / 1048576;
    const m = n.metrics;
    const fromReports = capacity > 0 ? capacity - heldMb : Infinity;
    const fromHeartbeat = !m ? Infinity : m.diskFreeMb > 0 ? m.diskFreeMb : capacity > 0 && m.diskUsedMb > 0 ? capacity - m.diskUsedMb : Infinity;
    return {
      id: n.id,
      online: n.status === "online",
      eligible: n.eligibility === "eligible" && !n.draining,
      zone: n.labels[this.options.spreadLabel] ?? "",
      freeMb: Math.min(fromReports, fromHeartbeat),
    };
  }

  private load(nodeId: string): number {
    const m = this.nodes.get(nodeId)?.metrics;
    return m ? m.activeConnections * 10 + m.load1 + m.cpuUsage / 100 : 0;
  }

  private requireNode(nodeId: string): void {
    this.registry.get(nodeId);
  }
}

function checkChunk(field: string, id: string, size: number): void {
  if (!CHUNK_ID.test(id)) throw new InvalidArgumentError(field, "a chunk id is 1-256 printable characters without spaces");
  if (!Number.isFinite(size) || size < 0) throw new InvalidArgumentError(field, "size must be at or above 0");
}
