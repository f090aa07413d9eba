import type { Logger } from "pino";
import { decideScale, type AutoscaleMemory, type ReplicaCpu } from "../orchestrator/autoscale.js";
import type { Node } from "../model/node.js";
import { boundedReason } from "../model/change-facts.js";
import type { ScaleRecord, StoredService } from "../model/service-store.js";
import type { UnitOfWork } from "../model/unit-of-work.js";
import type { KeyedLock } from "../shared/keyed-lock.js";
import type { ServiceState } from "../state/service-state.js";

/** Autoscaler settings. */
export interface AutoscalerOptions {
  /** At least this long between two scales of one service. */
  cooldownMs: number;
}

/**
 * Applies the pure autoscaling decisions (orchestrator/autoscale.ts): it
 * gathers each autoscaled service's replica CPU (per-replica figures from
 * agents that report them, else node figures from heartbeats), stores a new
 * replica count with its reason as the service's last scale, writes the
 * decision to the change feed (scheduler_decisions events) in the same
 * transaction, and logs it. Its writes go through `decisions` (the leader's
 * fenced transactions). It runs inside the service reconciler's pass, so whatever gates the reconciler
 * (leadership) gates it too; the shared "apply" lock keeps Apply and a scale
 * from interleaving.
 */
export class Autoscaler {
  private readonly memory = new Map<string, AutoscaleMemory>();

  constructor(
    private readonly decisions: UnitOfWork,
    private readonly state: ServiceState,
    private readonly nodes: () => Node[],
    private readonly lock: KeyedLock,
    private readonly options: AutoscalerOptions,
    private readonly logger: Logger,
  ) {}

  /** Looks at every autoscaled service once; resolves once the scales are stored. */
  async pass(now: number): Promise<void> {
    // A scheduled service runs tasks, not replicas: nothing to scale.
    const services = this.state.listServices().filter((s) => s.spec.autoscaling?.enabled && !s.spec.schedule);
    for (const name of [...this.memory.keys()]) if (!services.some((s) => s.spec.name === name)) this.memory.delete(name);
    for (const name of [...this.state.autoscaling.keys()]) if (!services.some((s) => s.spec.name === name)) this.state.autoscaling.delete(name);
    if (services.length === 0) return;
    const byId = new Map(this.nodes().map((n) => [n.id, n]));
    const usage = new Map<string, number>();
    for (const n of byId.values()) for (const u of n.metrics?.replicaUsage ?? []) usage.set(u.replicaId, u.cpuCores);
    for (const service of services) {
      const replicas = this.state.replicasOf(service.spec.name).filter((r) => r.specHash === service.specHash);
      const running = replicas
        .filter((r) => r.status === "running")
        .map((r): ReplicaCpu => {
          const node = byId.get(r.nodeId);
          const live = node?.status === "online" && node.metrics !== undefined;
          return {
            replicaId: r.id,
            cores: usage.get(r.id),
            nodePercent: live ? node.metrics?.cpuUsage : undefined,
            nodeCores: node?.capabilities.cpuCount ?? 0,
            // capstan-agent over AgentStream reports replica_usage; the other agent kinds report node figures only.
            measured: node?.agentKind === "grpc",
          };
        });
      const starting = replicas.filter((r) => r.status === "pending").length;
      const memory = this.memory.get(service.spec.name) ?? { lastScaleAt: service.lastScale?.at.getTime() };
      const outcome = decideScale({ spec: service.spec, running, starting, now, memory, cooldownMs: this.options.cooldownMs });
      this.memory.set(service.spec.name, outcome.memory);
      this.state.autoscaling.set(service.spec.name, outcome.note);
      const d = outcome.decision;
      if (!d) continue;
      const record: ScaleRecord = { at: new Date(now), from: d.from, to: d.to, metric: d.metric, threshold: d.threshold, source: d.source, reason: d.reason };
      await this.lock.run("apply", () => this.scale(service.spec.name, record));
    }
  }

  private async scale(name: string, record: ScaleRecord): Promise<void> {
    const current = this.state.services.get(name);
    // Apply changed the service since the decision: the next pass decides again.
    if (!current || current.spec.replicas !== record.from || !current.spec.autoscaling?.enabled) return;
    const next: StoredService = { ...current, spec: { ...current.spec, replicas: record.to }, updatedAt: record.at, lastScale: record };
    await this.decisions.transaction(async (tx) => {
      await tx.services.saveService(next);
      await tx.facts.append([
        {
          entity: "decision",
          key: name,
          fact: { kind: "scaled", service: name, from: record.from, to: record.to, metric: record.metric, reason: boundedReason(record.reason), at: record.at.toISOString() },
        },
      ]);
    });
    this.state.services.set(name, next);
    this.logger.info(
      { event: "service_scaled", service: name, from: record.from, to: record.to, metric: record.metric, threshold: record.threshold, source: record.source, reason: record.reason },
      "service scaled",
    );
  }
}
