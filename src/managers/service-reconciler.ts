import type { Logger } from "pino";
import type { ServiceState } from "../state/service-state.js";
import { reconcile } from "../orchestrator/reconcile.js";
import type { BackoffPolicy } from "../orchestrator/launch-backoff.js";
import { LaunchFailures } from "./launch-failures.js";
import { orphanedReplicas } from "../orchestrator/orphans.js";
import { FROM_JOB, ReplicaStatusFollower } from "./replica-status.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { boundedReason } from "../model/change-facts.js";
import type { CommandBus } from "../model/command-bus.js";
import { FailedPreconditionError, NotLeaderError } from "../model/errors.js";
import type { Leadership } from "../model/leadership.js";
import { newTimeOrderedId } from "../model/ids.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { Node } from "../model/node.js";
import type { Replica, ReplicaStatus } from "../model/replica.js";
import type { ServiceStore } from "../model/service-store.js";
import type { Transaction, UnitOfWork } from "../model/unit-of-work.js";

/** The reconciler's stores: replicas, and the transaction a replica and its launch job share. */
export type ReplicaStores = UnitOfWork & { readonly services: ServiceStore };

/** Reconciler settings. */
export interface ReconcilerOptions {
  intervalMs: number;
  /** A node offline this long past its heartbeat TTL has its replicas placed elsewhere. */
  graceMs: number;
  heartbeatTtlMs: number;
  maxParallel: number;
  /** How a service's failed launches are retried (default 1 s doubling to 5 min). */
  backoff?: BackoffPolicy;
  /**
   * Passes run only while this replica leads, and their writes go through its
   * fenced decisions; absent, the reconciler always runs (one process, tests).
   */
  leadership?: Leadership;
  now?: () => number;
  /** Runs at the start of every pass, before the plan (the autoscaler: a singleton gated with the reconciler). */
  beforePass?: (now: number) => Promise<void>;
  /** Told after each pass (Prometheus metrics): how long it took, the replicas it could not place, whether it failed. */
  onPass?: (pass: ReconcilePass) => void;
}

/** What one reconcile pass found, for metrics. */
export interface ReconcilePass {
  seconds: number;
  /** Replicas wanted that no node can take now. */
  unplaceable: number;
  failed: boolean;
}

/** How long before a stop of an orphan that still runs is sent again. */
const ORPHAN_RESEND_MS = 60_000;

/**
 * The small runner that applies the pure reconciler's plans: it persists
 * replicas with their LAUNCH_REPLICA jobs in one transaction, sends STOP_REPLICA jobs (also to
 * orphans), and follows the launch jobs through ReplicaStatusFollower (a replica runs while its
 * launch job is in progress). It runs every interval and soon after anything that matters changes.
 */
export class ServiceReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private soon: NodeJS.Timeout | undefined;
  private readonly lock = new KeyedLock();
  private readonly now: () => number;
  /** The last reason logged per service whose replicas cannot be placed (logged again only when it changes). */
  private readonly unplaced = new Map<string, string>();
  /** Consecutive failed launches per service (reset when one runs): their next launch waits (launchRetryAt). */
  private readonly failures: LaunchFailures;
  /** Where a pass writes its decisions: the leader's fenced transactions, or the plain store. */
  private readonly decisions: UnitOfWork;
  /** Replicas the last pass could not place. */
  private unplaceable = 0;
  /** node/replica → when a stop of that orphan was sent (sent again after ORPHAN_RESEND_MS if it still runs). */
  private readonly orphanStops = new Map<string, number>();
  /** Follows the replicas' jobs into their statuses. */
  private readonly statuses: ReplicaStatusFollower;

  constructor(
    private readonly stores: ReplicaStores,
    private readonly state: ServiceState,
    private readonly bus: CommandBus,
    private readonly nodes: () => Node[],
    private readonly snapshot: () => ClusterSnapshot,
    private readonly options: ReconcilerOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.decisions = options.leadership?.decisions ?? stores;
    this.failures = new LaunchFailures(options.backoff ?? { baseMs: 1_000, maxMs: 300_000 }, this.now);
    this.statuses = new ReplicaStatusFollower(stores.services, state, bus, this.lock, {
      launched: (r, job, status) => {
        this.failures.record(r, job, status);
        if (status !== "running") this.trigger();
      },
      now: this.now,
    }, logger);
    // A new leader looks at once rather than at the next interval.
    options.leadership?.onChange((leader) => {
      if (leader) this.trigger();
    });
  }

  /** Loads services and replicas, follows replica jobs, and starts the loop. */
  async start(): Promise<void> {
    this.state.load(await this.stores.services.listServices(), await this.stores.services.listReplicas());
    this.statuses.follow();
    this.timer = setInterval(() => this.trigger(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Replicas wanted that the last pass could not place (no node can take them now). */
  get unplaceableReplicas(): number {
    return this.unplaceable;
  }

  /** Stops the loop. */
  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  /**
   * Asks for a pass soon. Requests within 50 ms share one pass (a fleet
   * reconnecting asks thousands of times a second); passes never overlap, and
   * a request during one causes one more.
   */
  trigger(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.run();
    }, 50);
    this.soon.unref();
  }

  private run(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    const started = performance.now();
    let failed = false;
    this.running = this.pass()
      .catch((err: unknown) => {
        failed = true;
        // Refused because another replica leads now: logged once by the leadership, which stepped down.
        if (!(err instanceof NotLeaderError)) this.logger.error({ err }, "reconcile pass failed");
      })
      .finally(() => {
        this.options.onPass?.({ seconds: (performance.now() - started) / 1000, unplaceable: this.unplaceable, failed });
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }

  /** One pass; resolves when its jobs are submitted. Exposed for tests. */
  async pass(): Promise<void> {
    // Every replica writes the statuses its job changes imply (compare-and-set), leader or not.
    await this.statuses.retry();
    if (this.options.leadership && !this.options.leadership.isLeader()) return;
    // Nothing desired and nothing running: no snapshot to build.
    if (this.state.services.size === 0 && this.state.replicas.size === 0) {
      this.unplaceable = 0;
      return;
    }
    const now = this.now();
    // An autoscaler failure must not stop reconciling: logged, and the plan goes ahead with the counts as they are.
    await this.options.beforePass?.(now).catch((err: unknown) => this.logger.error({ err }, "autoscaler pass failed"));
    const lostNodes = new Set(
      this.nodes()
        .filter((n) => n.status === "offline" && now - (n.lastHeartbeatAt?.getTime() ?? 0) > this.options.heartbeatTtlMs + this.options.graceMs)
        .map((n) => n.id),
    );
    const plan = reconcile({
      // A scheduled service runs no replicas: each time it runs as a task (ScheduleRunner).
      services: this.state.listServices().filter((s) => !s.spec.schedule).map((s) => ({ spec: s.spec, specHash: s.specHash })),
      replicas: [...this.state.replicas.values()],
      snapshot: this.snapshot(),
      lostNodes,
      maxParallel: this.options.maxParallel,
      cursor: this.state.placementCursor,
    });
    this.state.placementCursor = plan.cursor;
    this.unplaceable = plan.launches.reduce((n, l) => (l.nodeId ? n : n + 1), 0);
    this.state.messages.clear();
    for (const [service, message] of Object.entries(plan.messages)) this.state.messages.set(service, message);
    const { go, held } = this.failures.hold(plan.launches, now, (service) => this.state.services.get(service)?.specHash);
    plan.launches = go;
    for (const h of held) {
      this.state.messages.set(h.serviceName, h.message);
      const wait = setTimeout(() => this.trigger(), h.retryAt.getTime() - now);
      wait.unref();
    }
    await this.noteUnplaced(plan.messages, now);
    for (const id of plan.lost) {
      await this.decide(id, "lost");
      // Its launch must not be redelivered when the node returns (just before the stop): cancel it now.
      const jobId = this.state.replicas.get(id)?.jobId;
      if (jobId) await this.bus.cancel(jobId, "node lost; replica placed elsewhere").catch((err: unknown) => {
        if (!(err instanceof FailedPreconditionError)) throw err;
      });
    }
    for (const stop of plan.stops) {
      const r = this.state.replicas.get(stop.replicaId);
      if (!r) continue;
      // The status and the stop job commit together, as one decision.
      await this.decide(r.id, r.status === "lost" ? "stopped" : "stopping", (tx) =>
        this.bus.submit({ nodeId: r.nodeId, serviceName: r.serviceName, replicaId: r.id, payload: { type: "stop_replica", serviceName: r.serviceName, replicaId: r.id } }, tx),
      );
      this.logger.info({ replicaId: r.id, nodeId: r.nodeId, reason: stop.reason }, "stopping replica");
    }
    await this.stopOrphans(now);
    for (const launch of plan.launches) {
      const service = this.state.services.get(launch.serviceName);
      if (!service) continue;
      if (!launch.nodeId) continue;
      const at = new Date(now);
      const replica: Replica = {
        id: `${service.spec.name}-${newTimeOrderedId(now).slice(-12)}`,
        serviceName: service.spec.name,
        nodeId: launch.nodeId,
        status: "pending",
        specHash: service.specHash,
        jobId: "",
        createdAt: at,
        updatedAt: at,
      };
      // The replica and its launch job commit together: the replica is written once, with its job.
      // The job's events wait for the replica's lock until the replica is in the view.
      await this.lock.run(replica.id, () =>
        this.decisions.transaction(async (tx) => {
          const job = await this.bus.submit(
            { nodeId: launch.nodeId as string, serviceName: replica.serviceName, replicaId: replica.id, payload: { type: "launch_replica", service: service.spec, replicaId: replica.id } },
            tx,
          );
          const launched: Replica = { ...replica, jobId: job.id, status: FROM_JOB[job.status] ?? "pending" };
          await tx.services.saveReplica(launched);
          // Why it went there, for scheduler_decisions watchers: committed with the replica, fenced like it.
          await tx.facts.append([
            {
              entity: "decision",
              key: replica.serviceName,
              fact: { kind: "placed", service: replica.serviceName, nodeId: replica.nodeId, replicaId: replica.id, reason: boundedReason(launch.reason), scoreTerms: launch.scoreTerms, at: at.toISOString() },
            },
          ]);
          tx.onCommit(() => void this.state.replicas.set(launched.id, launched));
        }),
      );
      this.logger.info({ replicaId: replica.id, nodeId: launch.nodeId }, "launching replica");
    }
    await this.collectGarbage();
  }

  /** Stops replicas agents run that the control plane does not run there (orphanedReplicas), once a minute at most each. */
  private async stopOrphans(now: number): Promise<void> {
    for (const [key, at] of this.orphanStops) if (at <= now - ORPHAN_RESEND_MS) this.orphanStops.delete(key);
    const nodes = this.nodes().map((n) => ({ nodeId: n.id, online: n.status === "online", heartbeatAt: n.lastHeartbeatAt?.getTime() ?? 0, running: n.metrics?.runningContainers ?? [] }));
    for (const o of orphanedReplicas(nodes, this.state.replicas, new Set(this.state.services.keys()))) {
      const key = `${o.nodeId}/${o.replicaId}`;
      if (this.orphanStops.has(key)) continue;
      await this.decisions.transaction((tx) =>
        this.bus.submit({ nodeId: o.nodeId, serviceName: o.serviceName, replicaId: o.replicaId, payload: { type: "stop_replica", serviceName: o.serviceName, replicaId: o.replicaId } }, tx),
      );
      // Noted once sent: a stop the store refused is tried again on the next pass.
      this.orphanStops.set(key, now);
      this.logger.warn(o, "stopping a replica its agent runs where the control plane does not (an orphan)");
    }
  }

  /**
   * Logs why a service's replicas cannot be placed when the reason changes
   * (not every pass), and when they can be again; a new reason is also an
   * "unplaceable" decision in the change feed (one fenced transaction per pass).
   */
  private async noteUnplaced(messages: Readonly<Record<string, string>>, now: number): Promise<void> {
    const changed = Object.entries(messages).filter(([service, reason]) => this.unplaced.get(service) !== reason);
    if (changed.length > 0) {
      const at = new Date(now).toISOString();
      await this.decisions.transaction((tx) =>
        tx.facts.append(changed.map(([service, reason]) => ({ entity: "decision", key: service, fact: { kind: "unplaceable", service, reason: boundedReason(reason), at } }))),
      );
    }
    for (const [service, reason] of changed) {
      this.logger.warn({ service, reason }, "replica cannot be placed");
      this.unplaced.set(service, reason);
    }
    for (const service of [...this.unplaced.keys()]) {
      if (service in messages) continue;
      this.unplaced.delete(service);
      if (this.state.services.has(service)) this.logger.info({ service }, "replicas can be placed again");
    }
  }

  /** A pass's status change (with more writes in the same transaction), written as a fenced decision (locked as ReplicaStatusFollower's writes). */
  private decide(id: string, status: ReplicaStatus, more?: (tx: Transaction) => Promise<unknown>): Promise<void> {
    return this.lock.run(`status:${id}`, async () => {
      const r = this.state.replicas.get(id);
      if (!r || (r.status === status && !more)) return;
      const next: Replica = { ...r, status, updatedAt: new Date(this.now()) };
      await this.decisions.transaction(async (tx) => {
        if (r.status !== status) await tx.services.saveReplica(next);
        await more?.(tx);
        tx.onCommit(() => void this.state.replicas.set(next.id, next));
      });
    });
  }

  /** Forgets replicas that ended more than ten intervals ago. */
  private async collectGarbage(): Promise<void> {
    const cutoff = this.now() - 10 * this.options.intervalMs;
    for (const r of [...this.state.replicas.values()]) {
      if ((r.status === "stopped" || r.status === "failed") && r.updatedAt.getTime() < cutoff) {
        await this.decisions.transaction((tx) => tx.services.deleteReplica(r.id));
        this.state.replicas.delete(r.id);
      }
    }
  }
}
