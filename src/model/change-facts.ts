/**
 * Facts written to the change feed as they are (not state kept elsewhere):
 * what happened once, on one replica or by the leader, that every replica's
 * event watchers should see in the feed's order.
 */

/** The longest reason a decision keeps: a fact row stays small however many nodes refused. */
export const MAX_REASON_CHARS = 1_000;

/** An agent's stream to a control-plane replica opened or closed. */
export interface AgentFact {
  nodeId: string;
  connected: boolean;
  /** "grpc", "ws-instadeploy" or "ws-orion". */
  protocol: string;
  /** REPLICA_ID of the control-plane replica the agent is connected to. */
  replica: string;
  /** When it happened (ISO 8601). */
  at: string;
}

/** A scheduler decision and why: where a replica went, why one could not go anywhere, or a scale. */
export interface DecisionFact {
  /** placed: a replica went to a node; unplaceable: no node can take the service's replicas (per-filter counts in reason); scaled: the autoscaler changed the count. */
  kind: "placed" | "unplaceable" | "scaled";
  service: string;
  /** placed: the node and the replica. */
  nodeId?: string;
  replicaId?: string;
  /** Human-readable, at most MAX_REASON_CHARS. */
  reason: string;
  /** placed: the values the placement strategy compared for the chosen node. */
  scoreTerms?: Record<string, number>;
  /** scaled: the replica counts and the metric (percent) that decided it. */
  from?: number;
  to?: number;
  metric?: number;
  /** When it was decided (ISO 8601). */
  at: string;
}

/** One fact for the feed, keyed by the node (agents) or the service (decisions). */
export type Fact = { entity: "agent"; key: string; fact: AgentFact } | { entity: "decision"; key: string; fact: DecisionFact };

/** Writes facts as change rows, in the transaction it is bound to (or one of its own). */
export interface FactStore {
  append(facts: readonly Fact[]): Promise<void>;
}

/** A reason cut to MAX_REASON_CHARS. */
export function boundedReason(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS - 1)}…`;
}
