import type { AgentFact, DecisionFact } from "./change-facts.js";
import type { Deployment } from "./deployment.js";
import type { Job } from "./job.js";
import type { Node } from "./node.js";
import type { Replica } from "./replica.js";
import type { StoredService } from "./service-store.js";
import type { ApiToken } from "./token-store.js";

/**
 * What a change row names. "heartbeats" is one row per heartbeat flush (its
 * key the flushed nodes' ids, comma-joined), never one per heartbeat.
 * "agent" and "decision" rows are facts carried in the row itself (`data`).
 */
export type ChangeEntity = "node" | "heartbeats" | "job" | "deployment" | "service" | "replica" | "token" | "chunk_target" | "agent" | "decision";

/** One row of the change feed, as written: what changed, not its new state. */
export interface Change {
  /** Its position in the feed: seq order is commit order (see src/store/change-log.ts). */
  readonly seq: number;
  readonly entity: ChangeEntity;
  readonly key: string;
  readonly op: "put" | "delete";
  /** REPLICA_ID of the replica that wrote it. */
  readonly origin: string;
  /** A fact row's fact, as JSON (see change-facts.ts); undefined for state changes. */
  readonly data?: string;
}

/**
 * A change with the current state of what it names, as the store holds it
 * when the change is read (undefined: gone). State read later than the change
 * may be newer than it; applying it is still right, because every later
 * change to the same thing follows in the feed.
 */
export type LoadedChange = Change &
  (
    | { entity: "node"; node: Node | undefined }
    | { entity: "heartbeats"; nodes: Node[] }
    | { entity: "job"; job: Job | undefined }
    | { entity: "deployment"; deployment: Deployment | undefined }
    | { entity: "service"; service: StoredService | undefined }
    | { entity: "replica"; replica: Replica | undefined }
    | { entity: "token"; token: ApiToken | undefined }
    | { entity: "chunk_target"; factor: number }
    | { entity: "agent"; agent: AgentFact | undefined }
    | { entity: "decision"; decision: DecisionFact | undefined }
  );

/** The feed as a replica reads it. */
export interface ChangeFeed {
  /** The seq of the last committed change (0 for none). */
  head(): Promise<number>;
  /** Committed changes after `seq`, oldest first, at most `limit`, with their current state. */
  after(seq: number, limit: number): Promise<LoadedChange[]>;
  /** The current state of what these changes name (as `after` loads it). */
  load(changes: readonly Change[]): Promise<LoadedChange[]>;
  /** The lowest seq still kept (0 when the feed is empty): a reader behind it missed pruned changes. */
  oldest(): Promise<number>;
  /** Deletes changes written before `before`; resolves how many. */
  prune(before: Date): Promise<number>;
  /**
   * Calls `wake` when another writer may have committed changes (PostgreSQL
   * LISTEN; nothing on SQLite, where one process writes). A hint only:
   * notifications are not durable, so readers also sweep. Resolves to stop.
   */
  listen(wake: () => void): Promise<() => Promise<void>>;
  /** Calls `listener` after each commit of this process's writes with their seqs. */
  onCommitted(listener: (changes: readonly Change[]) => void): () => void;
}
