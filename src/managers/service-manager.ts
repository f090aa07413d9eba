import { randomUUID } from "node:crypto";
import type { ServiceState } from "../state/service-state.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { Placer } from "../orchestrator/placer.js";
import { NotFoundError } from "../model/errors.js";
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
}

/**
 * Declarative services (seed 003): Apply stores the desired state and returns
 * the plan; the ServiceReconciler makes observed match desired.
 */
export class ServiceManager {
  private readonly lock = new KeyedLock();

  constructor(
    private readonly store: ServiceStore,
    private readonly state: ServiceState,
    private readonly snapshot: () => ClusterSnapshot,
    private readonly onChange: () => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Validates and (unless dry run) stores a desired state; returns what changes. */
  async apply(specs: ServiceSpec[], opts: { dryRun: boolean; prune: boolean }): Promise<ServiceChange[]> {
    const valid = validateServices(specs);
    return this.lock.run("apply", async () => {
      const changes: ServiceChange[] = [];
      const placer = new Placer(this.snapshot());
      const wanted = new Set(valid.map((s) => s.name));
      for (const spec of valid) {
        const current = this.state.services.get(spec.name);
        const hash = specHash(spec);
        const running = this.state.replicasOf(spec.name).filter((r) => ACTIVE.has(r.status) && r.specHash === hash).length;
        const action = !current ? "create" : JSON.stringify(current.spec) !== JSON.stringify(spec) ? "update" : "unchanged";
        const need = Math.max(0, spec.replicas - running);
        const preview = need > 0 ? placer.place({ requirements: spec.placement, count: need, group: spec.name }) : undefined;
        changes.push({
          serviceName: spec.name,
          action,
          fromReplicas: current?.spec.replicas ?? 0,
          toReplicas: spec.replicas,
          placements: Object.fromEntries((preview?.placements ?? []).map((nodeId, i) => [String(i + 1), nodeId])),
          unplaced: preview && preview.unplaced > 0 ? [preview.summary] : [],
        });
        if (!opts.dryRun && action !== "unchanged") {
          const now = this.now();
          const stored: StoredService = { id: current?.id ?? randomUUID(), spec, specHash: hash, createdAt: current?.createdAt ?? now, updatedAt: now };
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
    const replicas = this.state.replicasOf(s.spec.name).filter((r) => r.specHash === s.specHash);
    const running = replicas.filter((r) => r.status === "running").length;
    const failed = replicas.some((r) => r.status === "failed");
    const status = running >= s.spec.replicas ? "running" : failed ? "failed" : s.spec.replicas === 0 ? "stopped" : "pending";
    return { ...s, status };
  }
}
