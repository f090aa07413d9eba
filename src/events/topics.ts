import type { AgentFact, DecisionFact } from "../model/change-facts.js";
import type { LoadedChange } from "../model/change-feed.js";
import type { Deployment } from "../model/deployment.js";
import type { Job } from "../model/job.js";
import type { Node } from "../model/node.js";
import type { Replica } from "../model/replica.js";
import type { StoredService } from "../model/service-store.js";
import type { ApiToken } from "../model/token-store.js";

/** What a watcher can follow. */
export const TOPICS = [
  "nodes",
  "agents",
  "jobs",
  "chunk_commands",
  "deployments",
  "services",
  "replicas",
  "scheduler_decisions",
  "tokens",
  "chunk_targets",
] as const;

/** One of TOPICS. */
export type Topic = (typeof TOPICS)[number];

/** Topics that need the admin scope: tokens are the keys to everything. */
export const ADMIN_TOPICS: ReadonlySet<Topic> = new Set(["tokens"]);

/** The state an event carries after its change (undefined: deleted). */
export type EventPayload =
  | { kind: "node"; node: Node | undefined }
  | { kind: "job"; job: Job | undefined }
  | { kind: "deployment"; deployment: Deployment | undefined }
  | { kind: "service"; service: StoredService | undefined }
  | { kind: "replica"; replica: Replica | undefined }
  | { kind: "token"; token: ApiToken | undefined }
  | { kind: "chunk_target"; factor: number }
  | { kind: "agent"; agent: AgentFact }
  | { kind: "decision"; decision: DecisionFact };

/** A change as a watcher sees it. */
export interface ChangeEvent {
  index: number;
  topic: Topic;
  /** put or delete for state; connected or disconnected (agents); a decision's kind (scheduler_decisions). */
  type: "put" | "delete" | "connected" | "disconnected" | DecisionFact["kind"];
  key: string;
  payload: EventPayload;
}

const CHUNK_JOBS = new Set(["replicate_chunk", "evict_chunk"]);

/**
 * The events one change row makes: usually one; a heartbeat flush (one row for
 * many nodes) makes one `nodes` event per node, all at the row's index.
 */
export function eventsOf(c: LoadedChange): ChangeEvent[] {
  const base = { index: c.seq, type: c.op, key: c.key };
  switch (c.entity) {
    case "node":
      return [{ ...base, topic: "nodes", payload: { kind: "node", node: c.node } }];
    case "heartbeats":
      return c.nodes.map((node) => ({ ...base, type: "put", key: node.id, topic: "nodes", payload: { kind: "node", node } }));
    case "job":
      return [{ ...base, topic: c.job && CHUNK_JOBS.has(c.job.type) ? "chunk_commands" : "jobs", payload: { kind: "job", job: c.job } }];
    case "deployment":
      return [{ ...base, topic: "deployments", payload: { kind: "deployment", deployment: c.deployment } }];
    case "service":
      return [{ ...base, topic: "services", payload: { kind: "service", service: c.service } }];
    case "replica":
      return [{ ...base, topic: "replicas", payload: { kind: "replica", replica: c.replica } }];
    case "token":
      return [{ ...base, topic: "tokens", payload: { kind: "token", token: c.token } }];
    case "chunk_target":
      return [{ ...base, topic: "chunk_targets", payload: { kind: "chunk_target", factor: c.factor } }];
    case "agent":
      if (!c.agent) return [];
      return [{ ...base, type: c.agent.connected ? "connected" : "disconnected", topic: "agents", payload: { kind: "agent", agent: c.agent } }];
    case "decision":
      if (!c.decision) return [];
      return [{ ...base, type: c.decision.kind, topic: "scheduler_decisions", payload: { kind: "decision", decision: c.decision } }];
  }
}
