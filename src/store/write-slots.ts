import pLimit from "p-limit";
import { StoreUnavailableError } from "../model/errors.js";
import type { StoreHealth } from "../state/store-health.js";

/** Runs a writing transaction when a slot is free. */
export type WriteSlots = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * At most `slots` writing transactions at once (PostgreSQL: the pool keeps the
 * rest of its connections for reads); the others wait their turn here.
 *
 * While the store is known to be failing, a write does not wait for a slot: it
 * fails at once with StoreUnavailableError (Unavailable, with Retry-After), and
 * so does one whose turn comes while the store fails. Each write ahead of it may
 * wait out the connection timeout (5 s) against an unreachable database, so a
 * queued write would reach its caller's deadline before learning what the store
 * probe already knows. Writes that find a slot free still try, as the probe
 * does, and find the database back.
 */
export function writeSlots(slots: number, health: StoreHealth): WriteSlots {
  const limit = pLimit(slots);
  const refuse = () => Promise.reject(new StoreUnavailableError(health.current.reason || "the database is failing"));
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const waits = limit.activeCount >= slots;
    if (waits && !health.ok) return refuse();
    return limit(() => (waits && !health.ok ? refuse() : fn()));
  };
}
