import { Code, ConnectError } from "@connectrpc/connect";
import { DomainError, ValidationError, type ErrorKind } from "../domain/errors.js";

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
    if (err.field) error.metadata.set("capstan-field", err.field);
    if (err instanceof ValidationError) {
      error.metadata.set("capstan-issues", JSON.stringify(err.issues));
      error.metadata.set("capstan-summary", err.summary);
    }
    return { error, expected: true };
  }
  if (err instanceof ConnectError) {
    return { error: err, expected: err.code !== Code.Internal && err.code !== Code.Unknown };
  }
  return { error: new ConnectError("internal error", Code.Internal), expected: false };
}
