import type { Transaction, UnitOfWork } from "./unit-of-work.js";

/**
 * Whether this replica is the control plane's leader: the one that runs the
 * singletons (service reconciler, liveness transitions, chunk replication
 * monitor, job timeouts; later the autoscaler and cron). Other code gates on
 * it and writes its decisions through `decisions`.
 */
export interface Leadership {
  /** True while this replica holds the lease (as far as it knows: `decisions` is the check that counts). */
  isLeader(): boolean;
  /** The fencing epoch of the lease held, or 0 when not leader. */
  epoch(): number;
  /** Called on every change (gained: true with the new epoch; lost: false, 0). Returns an unsubscribe. */
  onChange(listener: (leader: boolean, epoch: number) => void): () => void;
  /**
   * The transaction scope for a leader's decisions: each transaction first
   * checks, inside itself, that the lease is still at this replica's epoch,
   * and fails with NotLeaderError (writing nothing) when another replica took
   * over or this one is not leader; a refusal makes this replica step down.
   */
  readonly decisions: UnitOfWork;
}

/** The lease row as read: who holds it, at which epoch, until when (database clock, ms). */
export interface Lease {
  readonly holder: string;
  readonly epoch: number;
  readonly expiresAtMs: number;
  /** The database's clock when read (ms), to compare with expiresAtMs. */
  readonly nowMs: number;
}

/**
 * The lease row's store. Every time is the database's clock, so replicas'
 * clocks never decide who leads.
 */
export interface LeaseStore {
  /**
   * Takes the lease for holder when it is free (released or expired),
   * raising the epoch by one; returns the new epoch, or undefined when
   * another replica holds an unexpired lease. sole: the database admits one
   * process (a locked SQLite file), so whatever holds the lease is this
   * process's dead predecessor: take it without waiting for it to expire.
   */
  acquire(holder: string, ttlMs: number, sole?: boolean): Promise<number | undefined>;
  /** Extends the lease holder holds at epoch; false when it no longer does. */
  renew(holder: string, epoch: number, ttlMs: number, sole?: boolean): Promise<boolean>;
  /** Gives the lease up at once (a handover on shutdown); no-op when no longer held. */
  release(holder: string, epoch: number): Promise<void>;
  /** The lease row, or undefined before anyone took it. */
  get(): Promise<Lease | undefined>;
  /**
   * Runs work in one transaction that first checks, under a shared lock on the
   * lease row (a takeover waits for it), that holder holds the lease at epoch;
   * throws NotLeaderError otherwise, before work runs.
   */
  fenced<T>(holder: string, epoch: number, work: (tx: Transaction) => Promise<T>): Promise<T>;
}

/** One replica of the control plane, as its membership row says. */
export interface ControlReplica {
  /** REPLICA_ID. */
  readonly id: string;
  /** ADVERTISE_URL: where the other replicas (and people) reach it. */
  readonly address: string;
  readonly version: string;
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  /** Agent streams it held at its last refresh. */
  readonly agents: number;
}

/** The membership rows. */
export interface MembershipStore {
  /** Writes (creates or refreshes) a replica's row. */
  upsert(replica: ControlReplica): Promise<void>;
  /** Every row, oldest first. */
  list(): Promise<ControlReplica[]>;
  /** Removes a replica's row (it left), or rows last seen before a time (long gone). */
  remove(id: string): Promise<void>;
  removeSeenBefore(time: Date): Promise<number>;
}
