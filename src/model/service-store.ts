import type { Replica } from "./replica.js";
import type { ServiceSpec } from "./service-spec.js";

/** A stored service: its spec and bookkeeping. */
export interface StoredService {
  id: string;
  spec: ServiceSpec;
  specHash: string;
  createdAt: Date;
  updatedAt: Date;
  /** The autoscaler's last change of the replica count (issue 16); absent until it scales. */
  lastScale?: ScaleRecord;
}

/** One change of a service's replica count by the autoscaler. */
export interface ScaleRecord {
  at: Date;
  from: number;
  to: number;
  /** CPU percent that decided it; undefined for a bounds correction. */
  metric: number | undefined;
  threshold: number | undefined;
  source: "replica" | "node" | undefined;
  reason: string;
}

/** Durable storage of services and replicas. */
export interface ServiceStore {
  listServices(): Promise<StoredService[]>;
  saveService(s: StoredService): Promise<void>;
  deleteService(name: string): Promise<void>;
  listReplicas(): Promise<Replica[]>;
  saveReplica(r: Replica): Promise<void>;
  /**
   * Moves a stored replica from status `from` to `to` (compare-and-set), and
   * says whether it did: false when the row has another status by now (another
   * replica wrote a later one) or is gone (collected), which a writer with a
   * stale view must neither overwrite nor bring back.
   */
  updateReplicaStatus(id: string, from: Replica["status"], to: Replica["status"], at: Date): Promise<boolean>;
  deleteReplica(id: string): Promise<void>;
}
