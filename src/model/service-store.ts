import type { Replica } from "./replica.js";
import type { ServiceSpec } from "./service-spec.js";

/** A stored service: its spec and bookkeeping. */
export interface StoredService {
  id: string;
  spec: ServiceSpec;
  specHash: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Durable storage of services and replicas. */
export interface ServiceStore {
  listServices(): Promise<StoredService[]>;
  saveService(s: StoredService): Promise<void>;
  deleteService(name: string): Promise<void>;
  listReplicas(): Promise<Replica[]>;
  saveReplica(r: Replica): Promise<void>;
  deleteReplica(id: string): Promise<void>;
}
