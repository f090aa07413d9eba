import type { AuditStore } from "./audit.js";
import type { FactStore } from "./change-facts.js";
import type { ChunkTargetStore } from "./chunk-target-store.js";
import type { DeploymentStore } from "./deployment.js";
import type { JobStore } from "./job-store.js";
import type { NodeStore } from "./node-store.js";
import type { ServiceStore } from "./service-store.js";
import type { TaskStore } from "./task.js";
import type { TokenStore } from "./token-store.js";

/**
 * Every store, bound to one open transaction: what is written through them
 * commits together or not at all.
 */
export interface Transaction {
  readonly nodes: NodeStore;
  readonly jobs: JobStore;
  readonly deployments: DeploymentStore;
  readonly services: ServiceStore;
  readonly chunkTargets: ChunkTargetStore;
  readonly tokens: TokenStore;
  readonly audit: AuditStore;
  readonly tasks: TaskStore;
  /** Facts for the change feed (a decision commits with what it decided). */
  readonly facts: FactStore;
  /**
   * Runs fn once the transaction has committed, never after a rollback: the
   * place for what must follow a durable write (updating the in-memory views,
   * announcing a change, sending a job to its agent). The transaction's caller
   * resumes after every such fn has run; their errors are theirs to log.
   */
  onCommit(fn: () => Promise<void> | void): void;
}

/** The store's one transaction scope, which every repository joins. */
export interface UnitOfWork {
  /**
   * Runs work in one transaction. It commits when work resolves and rolls
   * back when it throws (the error is rethrown); then the onCommit functions run.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
}
