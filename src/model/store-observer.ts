/**
 * Told of every store write's end (Prometheus metrics): `op` names the
 * repository method ("nodes.save", "transaction"), `startedAt` is the
 * write's performance.now() at its start, `failure` says how it failed:
 * "unavailable" for a fault of the database (down, full, locked), "error"
 * for any other failure, undefined for success. Must be cheap and not throw.
 */
export type StoreObserver = (op: string, startedAt: number, failure: "unavailable" | "error" | undefined) => void;
