/** The store's condition as the last writes and probes found it. */
export interface StoreCondition {
  /** False while writes fail because of the database's state (down, full, locked, I/O errors). */
  readonly ok: boolean;
  /** Why it is failing, in words safe to show; "" when ok. */
  readonly reason: string;
  /** When it started failing; undefined when ok. */
  readonly since: Date | undefined;
}

const OK: StoreCondition = { ok: true, reason: "", since: undefined };

/**
 * Whether the store takes writes now, tracked from real outcomes: a store
 * call that fails because of the database marks it failing; a probe write
 * that succeeds marks it ok again. An ordinary write that succeeds while it is
 * failing only asks for a probe: on a nearly full disk, small writes into
 * free space succeed while anything that needs new space fails, and the probe
 * write always needs new space. /health, /ready and gRPC health read this.
 */
export class StoreHealth {
  private condition: StoreCondition = OK;
  private readonly changeListeners = new Set<(c: StoreCondition) => void>();
  private readonly probeListeners = new Set<() => void>();

  /** The condition now. */
  get current(): StoreCondition {
    return this.condition;
  }

  /** Whether writes are expected to succeed. */
  get ok(): boolean {
    return this.condition.ok;
  }

  /** A store call failed because of the database; `reason` replaces the previous one. */
  failing(reason: string, now: Date = new Date()): void {
    const was = this.condition;
    this.condition = { ok: false, reason, since: was.since ?? now };
    if (was.ok) for (const l of this.changeListeners) l(this.condition);
  }

  /** A probe write succeeded: the store takes writes again. */
  serving(): void {
    if (this.condition.ok) return;
    this.condition = OK;
    for (const l of this.changeListeners) l(OK);
  }

  /** An ordinary write succeeded; while failing, that asks for a probe now. */
  writeSucceeded(): void {
    if (this.condition.ok) return;
    for (const l of this.probeListeners) l();
  }

  /** Listens to transitions between ok and failing; returns the unsubscribe function. */
  onChange(listener: (c: StoreCondition) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Listens to requests for a probe (a write succeeded while failing). */
  onProbeWanted(listener: () => void): () => void {
    this.probeListeners.add(listener);
    return () => this.probeListeners.delete(listener);
  }
}
