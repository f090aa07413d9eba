import { Code, ConnectError } from "@connectrpc/connect";

/** A mistake in the command line or local files: exit code 2, no server involved. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A wait that ended in failure (a job failed, a deployment failed): exit code 1. */
export class OperationFailedError extends Error {
  override name = "OperationFailedError";
}

/** An issue of a document the server refused (capstan-issues metadata). */
interface Issue {
  path: string;
  message: string;
}

/**
 * The lines to print on stderr for a failure, and the exit code. A server
 * error shows its code, its message and the field at fault (the server's
 * capstan-field metadata, percent-encoded), with every issue of a document.
 */
export function describeFailure(err: unknown): { lines: string[]; exitCode: number } {
  if (err instanceof UsageError) return { lines: [`error: ${err.message}`], exitCode: 2 };
  if (err instanceof OperationFailedError) return { lines: [`error: ${err.message}`], exitCode: 1 };
  if (err instanceof ConnectError) {
    const lines = [`error: ${Code[err.code] ?? err.code}: ${err.rawMessage}`];
    const field = header(err, "capstan-field");
    if (field) lines.push(`field: ${field}`);
    const issues = header(err, "capstan-issues");
    if (issues) {
      try {
        for (const i of JSON.parse(issues) as Issue[]) lines.push(`  ${i.path}: ${i.message}`);
      } catch {
        // The message already lists the issues; a malformed header adds nothing.
      }
    }
    if (err.code === Code.Unavailable) lines.push("hint: is the server running, and is --server right?");
    if (err.code === Code.Unauthenticated) lines.push("hint: pass --token, set CAPSTAN_TOKEN, or run capstan login");
    return { lines, exitCode: 1 };
  }
  return { lines: [`error: ${err instanceof Error ? err.message : String(err)}`], exitCode: 1 };
}

function header(err: ConnectError, name: string): string | undefined {
  const v = err.metadata.get(name);
  if (v === null) return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
