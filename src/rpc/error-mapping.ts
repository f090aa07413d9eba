import { Code, ConnectError } from "@connectrpc/connect";
import { DomainError, UnavailableError, ValidationError, type ErrorKind } from "../model/errors.js";

const codes: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  resource_exhausted: Code.ResourceExhausted,
};

/**
 * Maps any thrown value to a ConnectError: domain errors to their code with
 * their message, ConnectErrors unchanged, anything else to Internal with a
 * message that reveals nothing of the server's insides.
 */
export function toConnectError(err: unknown): { error: ConnectError; expected: boolean } {
  if (err instanceof DomainError) {
    const error = new ConnectError(err.message, codes[err.kind]);
    if (err.field) error.metadata.set("capstan-field", encodeMetadata(err.field));
    // gRPC clients read it as metadata; the REST gateway turns it into a Retry-After header.
    if (err instanceof UnavailableError && err.retryAfterSeconds !== undefined) error.metadata.set("retry-after", String(err.retryAfterSeconds));
    if (err instanceof ValidationError) {
      error.metadata.set("capstan-issues", encodeMetadata(JSON.stringify(err.issues)));
      error.metadata.set("capstan-summary", encodeMetadata(err.summary));
    }
    return { error, expected: true };
  }
  if (err instanceof ConnectError) {
    return { error: err, expected: (err.code !== Code.Internal && err.code !== Code.Unknown) || isUnreadableInput(err) };
  }
  return { error: new ConnectError("internal error", Code.Internal), expected: false };
}

/**
 * connect-es answers protobuf bytes it cannot parse, and compressed frames it
 * was not told how to read, with Internal (as grpc-go does) before any
 * handler runs. They are the client's mistake, not the server's: not logged
 * as failures of ours.
 */
function isUnreadableInput(err: ConnectError): boolean {
  return err.code === Code.Internal && /^(parse binary|received compressed envelope|invalid envelope)/.test(err.rawMessage);
}

/**
 * Metadata travels as HTTP header values, which must be Latin-1 (Headers.set
 * throws otherwise), while field names and messages may name any label key. So
 * these values are percent-encoded UTF-8, as gRPC does for grpc-message.
 */
export function encodeMetadata(text: string): string {
  return encodeURIComponent(text);
}

/** Reads a value written by encodeMetadata; undefined when absent or not readable. */
export function decodeMetadata(value: string | null): string | undefined {
  if (value === null) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
