import { randomUUID } from "node:crypto";
import type { ServiceState } from "../state/service-state.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { Placer } from "../orchestrator/placer.js";
import { explainService, type ServiceExplanation } from "../orchestrator/explain-service.js";
import { planService } from "../orchestrator/reconcile.js";
import type { PlacementRequirements } from "../model/placement.js";
import { NotFoundError, ValidationError } from "../model/errors.js";
import { dependencyIssues, dependencyWait } from "../model/service-dependencies.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { ServiceSpec } from "../model/service-spec.js";
import type { ServiceStore, StoredService } from "../model/service-store.js";
import { specHash, validateServices } from "../model/service-validation.js";
import { ACTIVE } from "../model/replica.js";

/** What Apply will do to one service. */
export interface ServiceChange {
  serviceName: string;
  action: "create" | "update" | "delete" | "unchanged";
  fromReplicas: number;
  toReplicas: number;
  /** Where a dry run of the scheduler would put new replicas (index → node id). */
  placements: Record<string, string>;
  unplaced: string[];
}

/** A service with its observed state. */
export interface ServiceView extends StoredService {
  status: "pending" | "running" | "failed" | "stopped";
  /** Why it is not as desired (e.g. why an update waits), or "". */
  statusMessage: string;
  /** What the autoscaler sees when it does not scale, or "". */
  autoscalingStatus: string;
}

/** A change to try on an existing service in explain: a replica count, new placement requirements. */
export interface ServiceChangeTry {
  replicas?: number;
  placement?: PlacementRequirements;
}

/**
 * Declarative services (seed 003): Apply stores the desired state and returns
 * the plan; the ServiceReconciler makes observed match desired.
 */
export class ServiceManager {
  constructor(
    private readonly store: ServiceStore,
    private readonly state: ServiceState,
    private readonly snapshot: () => ClusterSnapshot,
    private readonly onChange: () => void,
    private readonly now: () => Date = () => new Date(),
    /** Shared with the autoscaler: Apply and a scale never interleave (key "apply"). */
    private readonly lock = new KeyedLock(),
  ) {}

  /** Validates and (unless dry run) stores a desired state; returns what changes. */
  async apply(specs: ServiceSpec[], opts: { dryRun: boolean; prune: boolean }): Promise<ServiceChange[]> {
    const valid = validateServices(specs);
    return this.lock.run("apply", async () => {
      const changes: ServiceChange[] = [];
      const snapshot = this.snapshot();
      const nodes = new Map(snapshot.nodes.map((n) => [n.id, n]));
      // One working placer for the whole document: later services see where earlier ones would go.
      const placer = new Placer(snapshot, { cursor: this.state.placementCursor });
      const wanted = new Set(valid.map((s) => s.name));
      // Dependencies name services of this document or, unless pruned, already applied ones; no cycles.
      const kept = opts.prune ? [] : this.state.listServices().map((s) => s.spec).filter((s) => !wanted.has(s.name));
      const issues = dependencyIssues(valid, kept);
      if (issues.length) throw new ValidationError("Invalid configuration", issues);
      for (const given of valid) {
        const current = this.state.services.get(given.name);
        const spec = withAutoscaledReplicas(given, current?.spec);
        const hash = specHash(spec);
        const active = this.state.replicasOf(spec.name).filter((r) => ACTIVE.has(r.status));
        const action = !current ? "create" : JSON.stringify(current.spec) !== JSON.stringify(spec) ? "update" : "unchanged";
        // What the reconciler would do, all of it (no rolling limit): only the new replicas are listed.
        const preview = planService({ spec, specHash: hash }, active, [], nodes, Number.MAX_SAFE_INTEGER, (req, discounted) => {
          for (const r of discounted) placer.discount(spec.name, r.nodeId);
          return placer.place(req);
        });
        const placed = spec.schedule ? [] : preview.launches.flatMap((l) => (l.nodeId ? [l.nodeId] : []));
        changes.push({
          serviceName: spec.name,
          action,
          fromReplicas: current?.spec.replicas ?? 0,
          toReplicas: spec.replicas,
          placements: Object.fromEntries(placed.map((nodeId, i) => [String(i + 1), nodeId])),
          unplaced: preview.message ? [preview.message] : [],
        });
        if (!opts.dryRun && action !== "unchanged") {
          const now = this.now();
          const stored: StoredService = { id: current?.id ?? randomUUID(), spec, specHash: hash, createdAt: current?.createdAt ?? now, updatedAt: now, ...(current?.lastScale ? { lastScale: current.lastScale } : {}) };
          await this.store.saveService(stored);
          this.state.services.set(spec.name, stored);
        }
      }
      if (opts.prune) {
        for (const s of this.state.listServices()) {
          if (wanted.has(s.spec.name)) continue;
          changes.push({ serviceName: s.spec.name, action: "delete", fromReplicas: s.spec.replicas, toReplicas: 0, placements: {}, unplaced: [] });
          if (!opts.dryRun) await this.remove(s.spec.name);
        }
      }
      if (!opts.dryRun) this.onChange();
      return changes;
    });
  }

  /** Every service with its observed state. */
  list(): ServiceView[] {
    return this.state.listServices().map((s) => this.view(s));
  }

  /** One service, or NotFound. */
  get(name: string): ServiceView {
    const s = this.state.services.get(name);
    if (!s) throw new NotFoundError("service", name);
    return this.view(s);
  }

  /** Deletes a service; the reconciler stops its replicas. */
  async delete(name: string): Promise<void> {
    this.get(name);
    await this.lock.run("apply", () => this.remove(name));
    this.onChange();
  }

  private async remove(name: string): Promise<void> {
    await this.store.deleteService(name);
    this.state.services.delete(name);
  }

  private view(s: StoredService): ServiceView {
    // A scheduled service runs no replicas (issue 16): it is active while its schedule is.
    if (s.spec.schedule) return { ...s, status: "running", statusMessage: `scheduled "${s.spec.schedule}" (${s.spec.scheduleTimeZone || "UTC"}): runs once at each time, as a task`, autoscalingStatus: "" };
    const replicas = this.state.replicasOf(s.spec.name).filter((r) => r.specHash === s.specHash);
    const running = replicas.filter((r) => r.status === "running").length;
    const failed = replicas.some((r) => r.status === "failed");
    const status = running >= s.spec.replicas ? "running" : failed ? "failed" : s.spec.replicas === 0 ? "stopped" : "pending";
    return {
      ...s,
      status,
      statusMessage: status === "running" ? "" : (this.state.messages.get(s.spec.name) ?? ""),
      autoscalingStatus: this.state.autoscaling.get(s.spec.name) ?? "",
    };
  }

  /**
   * Explains a service as the reconciler sees it: where its replicas are and
   * why, and for a change (replica count, placement) only what would change.
   */
  explain(name: string, change: ServiceChangeTry = {}): ServiceExplanation {
    const current = this.get(name);
    let desired = { spec: current.spec, specHash: current.specHash };
    if (change.placement || change.replicas) {
      const [spec] = validateServices([{ ...current.spec, replicas: change.replicas || current.spec.replicas, placement: change.placement ?? current.spec.placement }]);
      desired = { spec, specHash: change.placement ? specHash(spec) : current.specHash };
    }
    return explainService({ desired, replicas: this.state.replicasOf(name), snapshot: this.snapshot(), cursor: this.state.placementCursor, waitingFor: this.waitingFor(desired.spec) });
  }

  /** What a service waits for before it starts (its dependencies' replicas), or "". */
  private waitingFor(spec: ServiceSpec): string {
    return dependencyWait(
      spec.dependencies.map((name) => ({
        name,
        desired: this.state.services.get(name)?.spec.replicas,
        running: this.state.replicasOf(name).filter((r) => r.status === "running").length,
      })),
    );
  }
}

/**
 * With autoscaling enabled the autoscaler owns the replica count: a new
 * service starts at the document's `replicas`, and a service that was already
 * autoscaled keeps its current count; either is clamped to [minReplicas,
 * maxReplicas].
 */
export function withAutoscaledReplicas(spec: ServiceSpec, current: ServiceSpec | undefined): ServiceSpec {
  const a = spec.autoscaling;
  if (!a?.enabled) return spec;
  const from = current?.autoscaling?.enabled ? current.replicas : spec.replicas;
  return { ...spec, replicas: Math.min(a.maxReplicas, Math.max(a.minReplicas, from)) };
}
