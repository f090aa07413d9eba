import type { Replica } from "../model/replica.js";
import type { StoredService } from "../model/service-store.js";

/** The in-memory view of services and their replicas. */
export class ServiceState {
  readonly services = new Map<string, StoredService>();
  readonly replicas = new Map<string, Replica>();
  /** Why a service is not as desired (e.g. why its update waits), as of the last reconcile pass. */
  readonly messages = new Map<string, string>();
  /** What the autoscaler sees for a service when it does not scale (e.g. a scale-down delay running), as of its last look. */
  readonly autoscaling = new Map<string, string>();
  /** round_robin's position after the last reconcile pass (explain starts from it too). */
  placementCursor = "";

  /** Replaces the view, e.g. with what the store holds at start-up. */
  load(services: Iterable<StoredService>, replicas: Iterable<Replica>): void {
    this.services.clear();
    this.replicas.clear();
    for (const s of services) this.services.set(s.spec.name, s);
    for (const r of replicas) this.replicas.set(r.id, r);
  }

  /** A service's replicas, oldest first. */
  replicasOf(serviceName: string): Replica[] {
    return [...this.replicas.values()]
      .filter((r) => r.serviceName === serviceName)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /** Every service, by name. */
  listServices(): StoredService[] {
    return [...this.services.values()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
  }
}
