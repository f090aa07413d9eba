import type { Node, NodeStatus } from "./node.js";

/**
 * Durable storage of nodes. The domain depends on this interface; `src/store/`
 * implements it with Prisma, and tests may inject an in-memory fake.
 */
export interface NodeStore {
  /** Every stored node, for loading the in-memory state at start-up. */
  listAll(): Promise<Node[]>;
  /** Inserts or replaces the whole node record (keyed by id). */
  upsert(node: Node): Promise<void>;
  /**
   * Inserts a node that is not stored yet. A plain insert costs the store
   * about half of what an upsert does, which counts when a fleet registers at once.
   */
  insert(node: Node): Promise<void>;
  /** Removes a node; resolves false when it did not exist. */
  delete(id: string): Promise<boolean>;
  /**
   * Persists a status transition. A node coming back online passes the
   * heartbeat that brought it back, written with the status: otherwise the
   * stored last-seen time stays as old as the outage until the next flush.
   */
  setStatus(id: string, status: NodeStatus, at: Date, heartbeat?: Pick<Node, "lastHeartbeatAt" | "metrics">): Promise<void>;
  /** Batched flush of last-seen times (and latest metrics) in one transaction. */
  flushHeartbeats(entries: ReadonlyArray<Pick<Node, "id" | "lastHeartbeatAt" | "metrics">>): Promise<void>;
}
