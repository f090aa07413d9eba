import type { AppStores } from "../../src/app/build-app.js";
import type { AuditEvent, AuditFilter, AuditStore } from "../../src/model/audit.js";
import type { Fact, FactStore } from "../../src/model/change-facts.js";
import type { ChunkTargetStore } from "../../src/model/chunk-target-store.js";
import type { Deployment, DeploymentRevision, DeploymentStore } from "../../src/model/deployment.js";
import type { Replica } from "../../src/model/replica.js";
import type { ServiceStore, StoredService } from "../../src/model/service-store.js";
import { StoreHealth } from "../../src/state/store-health.js";
import type { Transaction } from "../../src/model/unit-of-work.js";
import { MemoryJobStore } from "./memory-job-store.js";
import { MemoryLeaseStore, MemoryMembershipStore } from "./memory-lease-store.js";
import { MemoryNodeStore } from "./memory-node-store.js";
import { MemoryTaskStore } from "./memory-task-store.js";
import { MemoryTokenStore } from "./memory-token-store.js";

/** An in-memory DeploymentStore: rows are copies, revisions go with their deployment, as in the Prisma store. */
export class MemoryDeploymentStore implements DeploymentStore {
  readonly rows = new Map<string, Deployment>();
  readonly revisions: DeploymentRevision[] = [];

  async listAll(): Promise<Deployment[]> {
    return [...this.rows.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map((d) => structuredClone(d));
  }

  async get(id: string): Promise<Deployment | undefined> {
    const row = this.rows.get(id);
    return row && structuredClone(row);
  }

  async save(d: Deployment): Promise<void> {
    this.rows.set(d.id, structuredClone(d));
  }

  async delete(id: string): Promise<void> {
    this.rows.delete(id);
    this.revisions.splice(0, this.revisions.length, ...this.revisions.filter((r) => r.deploymentId !== id));
  }

  async addRevision(r: DeploymentRevision): Promise<void> {
    if (this.revisions.some((x) => x.deploymentId === r.deploymentId && x.revision === r.revision)) {
      throw new Error(`unique constraint: revision ${r.revision} of ${r.deploymentId}`);
    }
    this.revisions.push(structuredClone(r));
  }

  async listRevisions(deploymentId: string): Promise<DeploymentRevision[]> {
    return this.revisions.filter((r) => r.deploymentId === deploymentId).sort((a, b) => b.revision - a.revision).map((r) => structuredClone(r));
  }

  async setRevisionOutcome(deploymentId: string, revision: number, outcome: DeploymentRevision["outcome"], jobId: string): Promise<void> {
    for (const r of this.revisions) {
      if (r.deploymentId === deploymentId && r.revision === revision) Object.assign(r, { outcome, jobId });
    }
  }
}

/** An in-memory ServiceStore: services by name, replicas by id, in the Prisma store's orders; counts replica writes. */
export class MemoryServiceStore implements ServiceStore {
  readonly services = new Map<string, StoredService>();
  readonly replicas = new Map<string, Replica>();
  replicaWrites = 0;

  async listServices(): Promise<StoredService[]> {
    return [...this.services.values()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1)).map((s) => structuredClone(s));
  }

  async saveService(s: StoredService): Promise<void> {
    this.services.set(s.spec.name, structuredClone(s));
  }

  async deleteService(name: string): Promise<void> {
    this.services.delete(name);
  }

  async listReplicas(): Promise<Replica[]> {
    return [...this.replicas.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map((r) => structuredClone(r));
  }

  async saveReplica(r: Replica): Promise<void> {
    this.replicaWrites++;
    this.replicas.set(r.id, structuredClone(r));
  }

  async updateReplicaStatus(id: string, from: Replica["status"], to: Replica["status"], at: Date): Promise<boolean> {
    const r = this.replicas.get(id);
    if (!r || r.status !== from) return false;
    this.replicaWrites++;
    this.replicas.set(id, { ...r, status: to, updatedAt: at });
    return true;
  }

  async deleteReplica(id: string): Promise<void> {
    this.replicas.delete(id);
  }
}

/** An in-memory AuditStore: newest first by id, filtered as the Prisma store filters. */
export class MemoryAuditStore implements AuditStore {
  readonly events: AuditEvent[] = [];

  async append(events: AuditEvent[]): Promise<void> {
    this.events.push(...events.map((e) => structuredClone(e)));
  }

  async list(f: AuditFilter): Promise<AuditEvent[]> {
    return this.events
      .filter((e) => (!f.actor || e.actor === f.actor) && (!f.rpc || e.rpc === f.rpc) && (!f.since || e.time >= f.since) && (!f.beforeId || e.id < f.beforeId))
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, f.limit)
      .map((e) => structuredClone(e));
  }
}

/** An in-memory ChunkTargetStore: a factor of 0 removes the target. */
export class MemoryChunkTargetStore implements ChunkTargetStore {
  readonly targets = new Map<string, number>();

  async list(): Promise<Array<{ chunkId: string; factor: number }>> {
    return [...this.targets].map(([chunkId, factor]) => ({ chunkId, factor }));
  }

  async set(chunkId: string, factor: number): Promise<void> {
    if (factor <= 0) this.targets.delete(chunkId);
    else this.targets.set(chunkId, factor);
  }
}

/** Facts kept in memory, in order (no feed follows them here; tests read them). */
export class MemoryFactStore implements FactStore {
  readonly facts: Fact[] = [];

  async append(facts: readonly Fact[]): Promise<void> {
    this.facts.push(...facts);
  }
}

/** Every store of the app in memory, for wiring the real parts (wireApp) without a database. */
export interface MemoryStores extends AppStores {
  readonly nodes: MemoryNodeStore;
  readonly jobs: MemoryJobStore;
  readonly deployments: MemoryDeploymentStore;
  readonly services: MemoryServiceStore;
  readonly chunkTargets: MemoryChunkTargetStore;
  readonly tokens: MemoryTokenStore;
  readonly audit: MemoryAuditStore;
  readonly tasks: MemoryTaskStore;
  readonly facts: MemoryFactStore;
  readonly leases: MemoryLeaseStore;
  readonly members: MemoryMembershipStore;
  /** Whether close() was called: the app must close its stores when it stops. */
  readonly closed: boolean;
}

/**
 * Fresh, empty memory stores that answer pings until closed. Their
 * transaction writes through at once and runs its onCommit functions after
 * the work resolves; it never rolls back (rollback is tested on the real
 * databases, in test/integration).
 */
export function memoryStores(): MemoryStores {
  let closed = false;
  const stores: MemoryStores = {
    provider: "memory",
    nodes: new MemoryNodeStore(),
    jobs: new MemoryJobStore(),
    deployments: new MemoryDeploymentStore(),
    services: new MemoryServiceStore(),
    chunkTargets: new MemoryChunkTargetStore(),
    tokens: new MemoryTokenStore(),
    audit: new MemoryAuditStore(),
    tasks: new MemoryTaskStore(),
    facts: new MemoryFactStore(),
    leases: new MemoryLeaseStore((work) => stores.transaction(work)),
    members: new MemoryMembershipStore(),
    health: new StoreHealth(),
    get closed() {
      return closed;
    },
    ping: async () => !closed,
    close: async () => {
      closed = true;
    },
    async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
      const after: Array<() => Promise<void> | void> = [];
      const result = await work({ ...stores, onCommit: (fn) => void after.push(fn) });
      for (const fn of after) await fn();
      return result;
    },
  };
  return stores;
}
