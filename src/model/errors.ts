/**
 * Typed domain errors. The domain throws these; one interceptor at the RPC edge
 * maps each kind to a Connect code, so no domain code knows about transports.
 */

/** The kinds of failure the domain reports, one per Connect code we use. */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "unauthenticated"
  | "permission_denied"
  | "unavailable"
  | "resource_exhausted";

/** Base of every error the domain throws on purpose. */
export class DomainError extends Error {
  /**
   * @param kind what went wrong, for mapping to a status code
   * @param message a sentence for the caller; never contains secrets
   * @param field the request field at fault, when there is one
   */
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

/** Bad input; names the field. */
export class InvalidArgumentError extends DomainError {
  constructor(field: string, problem: string) {
    super("invalid_argument", `${field}: ${problem}`, field);
    this.name = "InvalidArgumentError";
  }
}

/** One problem with a document, for callers that validate many fields at once. */
export interface ValidationIssue {
  /** Dotted path of the field, e.g. "spec.services[0].replicas". */
  path: string;
  message: string;
}

/** A document with one or more invalid fields; names the first and lists all. */
export class ValidationError extends DomainError {
  constructor(
    readonly summary: string,
    readonly issues: ValidationIssue[],
  ) {
    super("invalid_argument", `${summary}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues[0]?.path);
    this.name = "ValidationError";
  }
}

/** The named thing does not exist. */
export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super("not_found", `${what} "${id}" not found`);
    this.name = "NotFoundError";
  }
}

/** The named thing exists already and may not be created again. */
export class AlreadyExistsError extends DomainError {
  constructor(what: string, id: string, hint?: string) {
    super("already_exists", `${what} "${id}" already exists${hint ? `: ${hint}` : ""}`);
    this.name = "AlreadyExistsError";
  }
}

/** The system is not in a state where the operation can proceed. */
export class FailedPreconditionError extends DomainError {
  constructor(message: string) {
    super("failed_precondition", message);
    this.name = "FailedPreconditionError";
  }
}

/** A dependency (an agent, the database) cannot be reached now; retrying may help. */
export class UnavailableError extends DomainError {
  /**
   * @param retryAfterSeconds when given, callers are told to retry after this long
   *   (gRPC `retry-after` metadata, HTTP Retry-After)
   */
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super("unavailable", message);
    this.name = "UnavailableError";
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Seconds a client is told to wait before retrying a call the store could not take. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * The database cannot take the call now: it does not answer, its connection
 * broke, or it refuses writes (disk full, I/O error, locked). The store layer
 * classifies driver errors into this, once; it maps to Unavailable (HTTP 503
 * with Retry-After), so clients retry instead of giving up on an internal error.
 */
export class StoreUnavailableError extends UnavailableError {
  /**
   * @param reason what the driver said, in words safe for callers (never a
   *   connection string or a query)
   */
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the database is unavailable (${reason}); retry later`, STORE_RETRY_AFTER_SECONDS, options);
    this.name = "StoreUnavailableError";
  }
}

/** No credentials, or credentials that do not check out. */
export class UnauthenticatedError extends DomainError {
  constructor(message = "missing or invalid credentials") {
    super("unauthenticated", message);
    this.name = "UnauthenticatedError";
  }
}

/** Valid credentials that may not do this. */
export class PermissionDeniedError extends DomainError {
  constructor(message: string) {
    super("permission_denied", message);
    this.name = "PermissionDeniedError";
  }
}

/**
 * A leader's decision refused: the replica wrote it under a leadership epoch
 * another replica has since replaced (it was paused or cut off past its
 * lease). Nothing was written; the replica steps down.
 */
export class NotLeaderError extends FailedPreconditionError {
  constructor(
    readonly epoch: number,
    readonly currentEpoch: number,
  ) {
    super(
      epoch === 0
        ? "this replica is not the leader: the decision was not written"
        : `leadership epoch ${epoch} is stale (the lease is at epoch ${currentEpoch}): the decision was not written`,
    );
    this.name = "NotLeaderError";
  }
}
