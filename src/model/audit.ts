/** One mutating call, allowed or refused. */
export interface AuditEvent {
  id: string;
  time: Date;
  /** "operator:ci", "node:n1", "join", "dev", "anonymous", "none": never a secret. */
  actor: string;
  actorKind: string;
  rpc: string;
  /** The id the call named (node, deployment, service, job, token), or "". */
  target: string;
  /** "ok" or an error code such as "permission_denied". */
  outcome: string;
  message: string;
  peer: string;
}

/** Filters for reading the trail, newest first. */
export interface AuditFilter {
  actor?: string;
  rpc?: string;
  since?: Date;
  /** Only events with ids below this one (the page cursor). */
  beforeId?: string;
  limit: number;
}

/** Durable storage of the audit trail. */
export interface AuditStore {
  append(events: AuditEvent[]): Promise<void>;
  list(filter: AuditFilter): Promise<AuditEvent[]>;
}

/** Where calls are recorded; the AuditLog implements it. */
export interface AuditRecorder {
  /** Records an event; it reaches the store soon after, never blocking the call. */
  record(event: Omit<AuditEvent, "id" | "time">): void;
  /**
   * Records an event and resolves once it is stored, written together with the
   * events of concurrent calls (group commit); rejects when the store cannot
   * take it now (the event stays buffered and is written later).
   */
  commit(event: Omit<AuditEvent, "id" | "time">): Promise<void>;
}
