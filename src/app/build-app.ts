import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { ChunkIndex } from "../chunks/chunk-index.js";
import { AuditLog } from "../managers/audit-log.js";
import { ChunkManager } from "../managers/chunk-manager.js";
import { ChunkLocality } from "../managers/chunk-locality.js";
import type { ChunkLocalityView } from "../orchestrator/snapshot.js";
import type { Caller } from "../model/principal.js";
import type { ChunkIndexPort } from "../model/chunk-index-port.js";
import { forwardingChunkIndex } from "./chunk-wiring.js";
import { hashToken } from "../model/tokens.js";
import { DeploymentManager } from "../managers/deployment-manager.js";
import { JobLifecycleManager } from "../managers/job-lifecycle.js";
import { SessionJobDelivery } from "../sessions/job-delivery.js";
import { JobEvents } from "../managers/job-events.js";
import { LeaderElection } from "../managers/leader-election.js";
import { LivenessMonitor } from "../managers/liveness-monitor.js";
import { Membership } from "../managers/membership.js";
import { NodeRegistry } from "../managers/node-registry.js";
import { ProjectManager } from "../managers/project-manager.js";
import { ServiceManager } from "../managers/service-manager.js";
import { ServiceReconciler } from "../managers/service-reconciler.js";
import { AfterDeployRunner } from "../managers/after-deploy.js";
import { ScheduleRunner } from "../managers/schedule-runner.js";
import { TaskManager } from "../managers/task-manager.js";
import { Autoscaler } from "../managers/autoscaler.js";
import { AgentConnectionLog } from "../managers/agent-connections.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import { TokenManager } from "../managers/token-manager.js";
import { createAppMetrics, replicaName, type AppMetrics } from "../metrics/app-metrics.js";
import { clusterSnapshot } from "../orchestrator/cluster-view.js";
import { accessPolicy } from "../rpc/access-policy.js";
import { AuthFailures } from "../rpc/auth-failures.js";
import { CallGuard } from "../rpc/call-guard.js";
import { CallPipeline } from "../rpc/call-pipeline.js";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { followStore, HealthState } from "../server/health.js";
import { createShutdownSignal, type ShutdownSignal } from "../server/shutdown-signal.js";
import { AgentGate } from "../sessions/agent-gate.js";
import { createAgentStreamHandler, type AgentStreamHandler } from "../sessions/grpc-agent-stream.js";
import { SessionRegistry } from "../sessions/session-registry.js";
import { version } from "../shared/version.js";
import { DeploymentState } from "../state/deployment-state.js";
import { JobState } from "../state/job-state.js";
import { MetricsHistory } from "../state/metrics-history.js";
import { NodeState } from "../state/node-state.js";
import { ServiceState } from "../state/service-state.js";
import { openDatabase, type Database } from "../store/database.js";
import { guardStoreCall } from "../store/store-faults.js";
import { SharedFeed } from "../events/shared-feed.js";
import { ChangeFollower } from "../managers/change-follower.js";
import type { ChangeFeed } from "../model/change-feed.js";
import { WriteIndexScope } from "../shared/write-index.js";
import { SERVICES, type RouteDeps } from "./routes.js";

/**
 * The stores and lifecycle of a database, as the wiring uses them: the opened
 * Prisma database in production, memory stores (test/fakes) in unit tests.
 */
export type AppStores = Pick<Database, "nodes" | "jobs" | "deployments" | "services" | "chunkTargets" | "tokens" | "audit" | "tasks" | "facts" | "leases" | "members" | "health" | "transaction" | "ping" | "close"> & {
  /** "sqlite", "postgresql", or what a fake calls itself; SystemService reports it. */
  readonly provider: string;
  /** The change feed (the Prisma database has one; memory fakes may not: then nothing follows it). */
  readonly feed?: ChangeFeed;
};

/** What the app does besides logging. */
export interface AppIo {
  /** Shows a line to the operator once, outside the logs (the bootstrap admin token). Default: stderr. */
  announce?: (line: string) => void;
  /**
   * This replica's views can no longer follow the change feed (it fell
   * behind the feed's retention): it must restart. Default: SIGTERM to
   * itself, the graceful shutdown; its supervisor starts it again.
   */
  mustRestart?: (reason: string) => void;
}

/** How often a replica reads the feed without a wake-up (NOTIFY is not durable). */
const FEED_SWEEP_MS = 500;
/** Changes an event watcher reads at a time (and the shared reader keeps four times that in memory). */
const EVENTS_BATCH = 500;

/**
 * Every part of the control plane, wired and started, but not yet serving:
 * what the server (server.ts) needs to answer requests, and how to stop it.
 */
export interface BuiltApp<S extends AppStores = AppStores> {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: S;
  /** What the RPC handlers need: createRoutes(handlers) registers every service. */
  readonly handlers: RouteDeps;
  /**
   * The sequence every call passes (naming, admission by the CallGuard,
   * RPC_TIMEOUT, error mapping, failure logging): the Connect interceptor and
   * the gRPC fast paths both enter it.
   */
  readonly pipeline: CallPipeline;
  /** Prometheus metrics (GET /metrics); undefined with METRICS=off. */
  readonly metrics: AppMetrics | undefined;
  readonly tokens: TokenManager;
  readonly registry: NodeRegistry;
  readonly sessions: SessionRegistry;
  readonly jobs: JobLifecycleManager;
  readonly chunks: ChunkManager;
  /**
   * This replica's leadership (the lease in the database; one SQLite process
   * always takes it). stop() hands the lease over at once.
   */
  readonly leadership: LeaderElection;
  /** Authenticates agents on every dialect (gRPC stream, WebSocket). */
  readonly gate: AgentGate;
  readonly agentStream: AgentStreamHandler;
  readonly heartbeatIntervalMs: number;
  readonly health: HealthState;
  /** Aborted at shutdown; every in-flight call listens to it. */
  readonly shutdown: ShutdownSignal;
  /**
   * Stops the background parts in the reverse order of their start (chunk
   * planner, reconciler, job delivery and lifecycle, liveness monitor, then the audit
   * trail's last flush, which must see every call), then closes the database.
   */
  stop(): Promise<void>;
}

/**
 * The build step of the composition root: opens the database CONFIG names and
 * wires every part over it (wireApp). Nothing listens yet; on failure
 * whatever was started is stopped and the database closed.
 */
export async function buildApp(config: Config, logger: Logger, io: AppIo = {}): Promise<BuiltApp<Database>> {
  const metrics = appMetrics(config);
  const db = await openDatabase(config.databaseUrl, logger, { replicaId: config.replicaId, observe: metrics?.store });
  return wireApp(db, config, logger, io, metrics);
}

/**
 * The app's Prometheus registry and recorders, or undefined with METRICS=off.
 * The cluster-wide gauges (nodes by status, chunk replication) are reported by
 * one replica only, so that a sum() over replicas counts them once: the leader
 * (one process always leads; wireApp hands the leadership to watch(); see
 * src/metrics/cluster-gauges.ts).
 */
export function appMetrics(config: Config, isLeader: () => boolean = () => true): AppMetrics | undefined {
  return config.metrics ? createAppMetrics({ replica: replicaName(config.replicaId), reportsClusterGauges: isLeader }) : undefined;
}

/**
 * Creates and wires every part over the given stores. There are no
 * module-level singletons: two apps in one process (as the tests start) share
 * nothing. The stores are closed by stop(), or here if wiring fails.
 */
export async function wireApp<S extends AppStores>(db: S, config: Config, logger: Logger, io: AppIo = {}, metrics = appMetrics(config)): Promise<BuiltApp<S>> {
  const startedAt = Date.now();
  // Every in-flight call listens to the shutdown signal; thousands may be in flight.
  const shutdown = createShutdownSignal();
  setMaxListeners(0, shutdown.signal);
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    // splice: a second stop() finds nothing left to stop.
    for (const s of stops.splice(0).reverse()) await s();
    await db.close();
  };
  try {
    // Read before any view loads: every change committed after this is applied by the follower.
    const feedStart = db.feed ? await db.feed.head() : 0;
    const writeIndex = new WriteIndexScope();
    db.feed?.onCommitted((changes) => writeIndex.noteWrite(changes[changes.length - 1].seq));
    const tokens = new TokenManager(db.tokens, logger);
    await tokens.load();
    const bootstrapSecret = await tokens.bootstrap(config.auth.adminToken);
    if (bootstrapSecret) {
      // Straight to the operator, never through the logger: secrets must not reach log storage.
      (io.announce ?? ((line) => process.stderr.write(`${line}\n`)))(
        `capstan: bootstrap admin token (shown once, store it now): ${bootstrapSecret}`,
      );
    }
    const audit = new AuditLog(db.audit, logger);
    stops.push(() => audit.flush());
    // First: a lone replica (always, on SQLite) leads before the singletons below start.
    const leadership = new LeaderElection(db.leases, { replicaId: config.replicaId, leaseMs: config.leaderLeaseMs, sole: db.provider !== "postgresql" }, logger);
    await leadership.start();
    stops.push(() => leadership.stop());
    const nodeState = new NodeState();
    nodeState.load(await db.nodes.listAll());
    const history = new MetricsHistory(config.heartbeatHistory);
    history.follow(nodeState);
    const registry = new NodeRegistry({ store: db.nodes, state: nodeState, logger, certifiedNames: config.auth.clientCa !== undefined });
    const liveness = new LivenessMonitor(registry, nodeState, db.nodes, { heartbeatTtlMs: config.heartbeatTtlMs, flushIntervalMs: config.heartbeatFlushMs, leadership }, logger);
    await liveness.start();
    stops.push(() => liveness.stop());

    const sessions = new SessionRegistry();
    const events = new JobEvents();
    if (metrics) events.onAny((e) => metrics.jobChanged(e.job));
    const delivery = new SessionJobDelivery(sessions, logger, { ackTimeoutMs: 10_000, maxAttempts: 5 });
    const jobState = new JobState();
    const jobs = new JobLifecycleManager(db.jobs, jobState, delivery, events, logger, { maxLogChars: config.limits.jobLogBytes, leadership });
    await jobs.start();
    delivery.start(jobs);
    stops.push(() => jobs.stop(), () => delivery.stop());

    const deploymentState = new DeploymentState();
    const serviceState = new ServiceState();
    // The chunk index is soft state the scheduler reads (chunk-aware placement) through a read-only view.
    const chunkIndex = new ChunkIndex(config.chunks.replication);
    // With several replicas, a view that reads the owner's index (ChunkLocality), set below.
    let locality: ChunkLocalityView = chunkIndex;
    const snapshot = () => clusterSnapshot(nodeState, deploymentState, serviceState, locality);
    const deployments = new DeploymentManager({ store: db.deployments, state: deploymentState, bus: jobs, uow: db, nodes: registry, snapshot, rotation: serviceState, logger });
    await deployments.start();
    const projects = new ProjectManager(deployments, registry, jobs);
    // Apply and the autoscaler both write a service's replica count: one lock between them.
    const applyLock = new KeyedLock();
    const autoscaler = new Autoscaler(leadership.decisions, serviceState, () => registry.all(), applyLock, { cooldownMs: config.autoscaleCooldownMs }, logger);
    const reconciler = new ServiceReconciler(db, serviceState, jobs, () => registry.all(), snapshot, {
      intervalMs: config.reconcileIntervalMs,
      graceMs: config.replicaGraceMs,
      heartbeatTtlMs: config.heartbeatTtlMs,
      maxParallel: config.maxParallel,
      backoff: { baseMs: config.tasks.launchBackoffMs, maxMs: config.tasks.launchBackoffMaxMs },
      leadership,
      beforePass: (now) => autoscaler.pass(now),
      onPass: metrics?.reconcilePass,
    }, logger);
    await reconciler.start();
    stops.push(() => reconciler.stop());
    // One-off tasks (issue 16). Schedules and after-deploy hooks fire from one place per cluster, like the reconciler.
    const tasks = new TaskManager(db, jobs, snapshot, { defaultTimeoutMs: config.tasks.timeoutMs, keep: 20, leadership }, logger);
    await tasks.start();
    stops.push(() => tasks.stop());
    const schedules = new ScheduleRunner(serviceState, tasks, db.tasks, { intervalMs: 1_000, leadership }, logger);
    const afterDeploy = new AfterDeployRunner(serviceState, tasks, 1_000, logger);
    schedules.start();
    afterDeploy.start();
    stops.push(() => schedules.stop(), () => afterDeploy.stop());
    const services = new ServiceManager(db.services, serviceState, snapshot, () => reconciler.trigger(), undefined, applyLock);
    // Node and job changes can unblock pending work: look again soon.
    nodeState.onChange((change) => {
      if (change.heartbeat) return;
      reconciler.trigger();
      void deployments.retryPending();
    });

    const chunks = new ChunkManager(chunkIndex, jobs, registry, nodeState, db.chunkTargets, {
      heartbeatTtlMs: config.heartbeatTtlMs,
      graceMs: config.replicaGraceMs,
      intervalMs: config.chunks.intervalMs,
      perNodeLimit: config.chunks.perNodeLimit,
      spreadLabel: config.chunks.spreadLabel,
      leadership,
    }, logger);
    await chunks.start();
    stops.push(() => chunks.stop());
    // Agents connecting and disconnecting, for event watchers: buffered, written a batch at a time.
    const agentConnections = new AgentConnectionLog(db.facts, { replica: config.replicaId, flushMs: 250, maxPending: 50_000 }, logger);
    agentConnections.follow(sessions);
    stops.push(() => agentConnections.stop());
    // The index is soft state: every (re)connecting agent is asked for a full report.
    sessions.onAttach((session) => session.send({ kind: "chunk_report_request" }));
    let follower: ChangeFollower | undefined;
    // The last change this replica's own writes committed: a forwarded call asks the owner to have applied it.
    let ownWrites = 0;
    db.feed?.onCommitted((changes) => (ownWrites = Math.max(ownWrites, changes[changes.length - 1].seq)));
    const chunkPort: ChunkIndexPort =
      db.provider === "postgresql"
        ? await forwardingChunkIndex({ db, config, logger, leadership, chunks, nodeState, sessions, minIndex: () => Math.max(follower?.index ?? 0, ownWrites), stops })
        : chunks;
    const ownerLocality = db.provider === "postgresql" ? new ChunkLocality(chunkIndex, chunkPort, () => leadership.isLeader()) : undefined;
    if (ownerLocality) locality = ownerLocality;
    const prepareChunks = ownerLocality && ((caller: Caller, ids: readonly string[] | undefined) => ownerLocality.prepare(caller, ids));

    const failures = new AuthFailures({ perWindow: config.limits.authFailuresPerMinute, windowMs: 60_000 }, audit, logger);
    stops.push(() => failures.flush());
    const gate = new AgentGate(registry, { joinToken: config.joinToken, requireClientCert: config.auth.clientCa !== undefined, audit, failures }, logger);
    warnAboutOpenAccess(config, gate, logger);
    // A deleted node's token is gone: its live agent stream goes with it.
    nodeState.onChange((change) => {
      if (change.type === "delete") sessions.get(change.node.id)?.close("node deleted");
    });
    const heartbeatIntervalMs = Math.max(100, Math.floor(config.heartbeatTtlMs / 3));
    const agentStream = createAgentStreamHandler({
      gate, registry, sessions, jobs, chunks: chunkPort, logger, heartbeatIntervalMs, helloTimeoutMs: 10_000, serverVersion: version,
    });
    follower = db.feed
      ? new ChangeFollower(
          db.feed,
          {
            nodes: nodeState, jobs, deployments: deploymentState, services: serviceState, tokens, chunks, servicesChanged: () => reconciler.trigger(),
          },
          {
            origin: config.replicaId,
            sweepMs: FEED_SWEEP_MS,
            retentionMs: config.feedRetentionMs,
            onLost: io.mustRestart ?? (() => process.kill(process.pid, "SIGTERM")),
            prunes: () => leadership.isLeader(),
          },
          logger,
        )
      : undefined;
    if (follower) {
      await follower.start(feedStart);
      stops.push(() => follower.stop());
    }
    // Event watchers read the feed through one shared reader, driven by the follower's advance.
    // Its store reads classified as the repositories' are: a watcher that needs the store while it is away gets Unavailable.
    const feed = db.feed;
    const guardedFeed = feed && {
      after: (seq: number, limit: number) => guardStoreCall(() => feed.after(seq, limit), db.health, false),
      oldest: () => guardStoreCall(() => feed.oldest(), db.health, false),
    };
    const sharedFeed = guardedFeed && follower && new SharedFeed(guardedFeed, { batch: EVENTS_BATCH, keep: 4 * EVENTS_BATCH, retryMs: FEED_SWEEP_MS }, logger);
    if (sharedFeed && follower) {
      sharedFeed.start(follower);
      stops.push(() => sharedFeed.stop());
    }
    const membership = new Membership(db.members, db.leases, leadership, {
      replicaId: config.replicaId, address: config.advertiseUrl, version, refreshMs: Math.min(5_000, Math.max(1_000, Math.floor(config.leaderLeaseMs / 2))), agents: () => sessions.size,
    }, logger);
    await membership.start();
    stops.push(() => membership.stop());
    const health = new HealthState();
    // The services whose calls write: NOT_SERVING in gRPC health while the store refuses writes.
    followStore(health, db.health, [NodeService, DeploymentService, AgentService, TokenService].map((s) => s.typeName));
    const guard = new CallGuard({
      credentials: { tokens, registry, joinHash: gate.joinHash, auth: config.auth },
      registry, tokens, audit, failures, limits: config.limits, policy: accessPolicy(SERVICES),
      clusterSecretHash: config.clusterSecret === undefined ? undefined : hashToken(config.clusterSecret),
    });
    metrics?.watch({
      nodes: () => nodeState.list(),
      sessions: () => sessions.list(),
      unfinishedJobs: () => jobState.all(),
      chunks: () => chunks.metrics(),
      unplaceable: () => reconciler.unplaceableReplicas,
      // One replica reports them, so a sum() over replicas counts each node once: the leader.
    }, () => leadership.isLeader());
    const handlers: RouteDeps = {
      nodes: {
        registry,
        isConnected: (id) => sessions.isConnected(id),
        publicUrl: config.publicUrl,
        chunks,
        chunkIndex: chunkPort,
        history,
      },
      agents: { registry, agentStream },
      deployments: { deployments, projects, services, serviceState, snapshot, jobs, events, tasks, prepareChunks },
      tasks: { tasks, state: serviceState, prepareChunks },
      chunks,
      chunkIndex: chunkPort,
      tokens,
      audit,
      system: {
        version, startedAt, databaseProvider: db.provider, pingDatabase: () => db.ping(), connectedAgents: () => sessions.size,
        store: () => db.health.current, shuttingDown: () => health.shuttingDown,
      },
      health,
      events: sharedFeed && { feed: sharedFeed.reader, signal: sharedFeed, options: { ...config.events, batch: EVENTS_BATCH } },
      replicas: membership,
    };
    return {
      config, logger, db, handlers, pipeline: new CallPipeline(guard, logger, follower && {
        scope: writeIndex, index: () => follower.index, waitFor: (index) => follower.waitFor(index),
      }, metrics?.calls), metrics, tokens, registry, sessions, jobs, chunks, leadership, gate, agentStream, heartbeatIntervalMs, health, shutdown, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Open doors are the operator's choice, but never a silent one: each is logged at startup. */
function warnAboutOpenAccess(config: Config, gate: AgentGate, logger: Logger): void {
  if (gate.open) logger.warn("CAPSTAN_JOIN_TOKEN is not set: any agent may register (development mode)");
  if (config.auth.dev) logger.warn("CAPSTAN_DEV=1: callers on loopback need no token and may do anything (development only; other addresses still need tokens)");
  if (config.auth.anonymousScopes.size > 0) {
    logger.warn(
      { scopes: [...config.auth.anonymousScopes], networks: config.auth.anonymousNetworksText || "any address" },
      "CAPSTAN_ANONYMOUS_SCOPES: callers without a token are let in with these scopes",
    );
  }
}
