import { decodeMetadata } from "../rpc/error-mapping.js";
import { Code, ConnectError } from "@connectrpc/connect";

const STATUS: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 412,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** Connect's lower-case name of a code: "not_found". */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** The HTTP status for a Connect code (as grpc-gateway maps them). */
export function httpStatus(code: Code): number {
  return STATUS[code] ?? 500;
}

/**
 * The JSON error body: Connect's {code, message, details}, plus `field` (the
 * request field at fault), FastAPI's `detail` (seeds 001 and 002 were FastAPI
 * services, whose clients read it) and `issues` (seed 003's validation list).
 */
export function errorBody(err: ConnectError): Record<string, unknown> {
  const field = decodeMetadata(err.metadata.get("capstan-field"));
  const issuesText = decodeMetadata(err.metadata.get("capstan-issues"));
  const issues = issuesText ? (JSON.parse(issuesText) as unknown[]) : undefined;
  const summary = decodeMetadata(err.metadata.get("capstan-summary"));
  const message = issues && summary ? summary : err.rawMessage;
  return {
    code: codeName(err.code),
    message,
    details: err.details.map((d) => ("desc" in d ? { type: d.desc.typeName } : { type: d.type })),
    ...(field ? { field } : {}),
    ...(issues ? { issues } : {}),
    detail: err.rawMessage,
  };
}
