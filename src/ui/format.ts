import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";

/** An enum value's name without its prefix, lower case: JobStatus.IN_PROGRESS -> "in progress". */
export function enumLabel(e: Record<number, string>, value: number): string {
  return (e[value] ?? String(value)).toLowerCase().replace(/_/g, " ");
}

/** A timestamp as local time, or "-". */
export function when(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toLocaleString() : "-";
}

/** How long ago a timestamp was, in words ("12s ago"), or "never". */
export function ago(ts: Timestamp | undefined, now = Date.now()): string {
  if (!ts) return "never";
  const s = Math.max(0, Math.round((now - timestampDate(ts).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A usage in percent (0-100, as heartbeats report it). */
export function percent(v: number): string {
  return `${v.toFixed(1)}%`;
}

/** A map as "k=v, k=v". */
export function pairs(m: Record<string, string>): string {
  return Object.entries(m).map(([k, v]) => `${k}=${v}`).join(", ");
}

/** The server's error as the operator should read it: code and message (which names the field). */
export function errorText(err: unknown): string {
  if (err instanceof ConnectError) return `${codeName(err.code)}: ${err.rawMessage}`;
  return err instanceof Error ? err.message : String(err);
}

const CODES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];

function codeName(code: number): string {
  return CODES[code] ?? `code ${code}`;
}
