import type { WireAnswer, WireOutcome } from "../support/wire.js";

/** The verdict on one answer: what is wrong with it (if anything) and whether the call was refused. */
export interface Verdict {
  violation?: string;
  rejected: boolean;
  /** One line describing the answer, for failure messages. */
  answer: string;
}

const GRPC_UNKNOWN = 2;
const GRPC_INTERNAL = 13;

/**
 * The one Internal a caller can cause: protobuf bytes (or a compressed frame)
 * that connect-es cannot read, which it answers with Internal, as grpc-go
 * does, before any of Capstan's code runs. Its message says what is wrong
 * with the input; anything else Internal is a server failure.
 */
const UNREADABLE_INPUT = /^(parse binary|received compressed envelope|invalid envelope)/;

function noAnswer(o: Exclude<WireOutcome, { kind: "answer" | "open-stream" }>): Verdict {
  return { violation: o.kind === "timeout" ? `no answer in time (${o.partial})` : `no answer: ${o.error}`, rejected: true, answer: o.kind };
}

function bodyText(a: WireAnswer): string {
  return a.body.toString("utf8").slice(0, 300);
}

/**
 * A gRPC answer is HTTP 200 with a grpc-status (trailer, or header for a
 * trailers-only answer) that is a code from 0 to 16 and neither Unknown nor
 * Internal: those say the server failed, not the caller. A streaming call
 * may instead still be open after sending a message.
 */
export function checkGrpc(o: WireOutcome, streaming: boolean): Verdict {
  if (o.kind === "timeout" || o.kind === "broken") return noAnswer(o);
  const a = o.answer;
  if (o.kind === "open-stream") {
    return streaming ? { rejected: false, answer: "stream open after a message" } : { violation: "a unary call answered like a stream", rejected: true, answer: "open" };
  }
  const raw = a.trailers["grpc-status"] ?? a.headers["grpc-status"];
  const message = safeDecode(a.trailers["grpc-message"] ?? a.headers["grpc-message"] ?? "");
  const answer = `HTTP ${a.status}, grpc-status ${raw ?? "(none)"} ${message}`.trim();
  if (a.status !== 200) return { violation: "gRPC answers must be HTTP 200", rejected: true, answer };
  if (!/^application\/grpc/.test(a.headers["content-type"] ?? "")) return { violation: `content-type ${a.headers["content-type"]} is not gRPC`, rejected: true, answer };
  if (raw === undefined || !/^\d{1,2}$/.test(raw) || Number(raw) > 16) return { violation: "no valid grpc-status", rejected: true, answer };
  const code = Number(raw);
  if (code === GRPC_INTERNAL && UNREADABLE_INPUT.test(message)) return { rejected: true, answer };
  if (code === GRPC_UNKNOWN || code === GRPC_INTERNAL) return { violation: `grpc-status ${code} (${code === 2 ? "Unknown" : "Internal"}) for a caller's mistake`, rejected: true, answer };
  return { rejected: code !== 0, answer };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses a JSON body; undefined when it is not JSON. */
export function parseJsonBody(a: WireAnswer): unknown {
  try {
    return JSON.parse(a.body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** A server error is any 5xx but 503 (Unavailable: a dependency or agent is not there, which is the caller's to retry). */
export function isServerError(status: number): boolean {
  return status >= 500 && status !== 503;
}

/**
 * A Connect unary answer is 200 with a protobuf body, or an error status
 * below 500 (or 503) with a JSON body {code, message} whose code is not
 * internal or unknown. A unary request to a streaming RPC is refused before
 * any RPC runs, with the protocol's own status: 415 for a server stream, and
 * for a bidi stream 505 (it needs HTTP/2, so "HTTP version not supported" is
 * the accurate answer, not a server failure).
 */
export function checkConnectUnary(o: WireOutcome, kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming"): Verdict {
  if (o.kind !== "answer") return o.kind === "open-stream" ? { violation: "open stream", rejected: true, answer: "open" } : noAnswer(o);
  const a = o.answer;
  const answer = `HTTP ${a.status} ${a.headers["content-type"] ?? ""} ${bodyText(a)}`.trim();
  if (kind !== "unary") {
    const expected = kind === "bidi_streaming" ? [415, 505] : [415];
    return expected.includes(a.status) ? { rejected: true, answer } : { violation: `expected ${expected.join(" or ")} for a unary request to a streaming RPC`, rejected: a.status !== 200, answer };
  }
  if (a.status === 200) return { rejected: false, answer };
  const body = parseJsonBody(a) as { code?: unknown; message?: unknown } | undefined;
  if (a.status === 500 && body?.code === "internal" && typeof body.message === "string" && UNREADABLE_INPUT.test(body.message)) return { rejected: true, answer };
  if (isServerError(a.status)) return { violation: `HTTP ${a.status}`, rejected: true, answer };
  if (!body || typeof body.code !== "string" || typeof body.message !== "string") return { violation: "error body is not JSON {code, message}", rejected: true, answer };
  if (body.code === "internal" || body.code === "unknown") return { violation: `error code ${body.code}`, rejected: true, answer };
  return { rejected: true, answer };
}

/**
 * A REST answer: never a 5xx other than 503, always a JSON body (but for
 * HEAD), and errors carry string `code` and `message`.
 */
export function checkRest(o: WireOutcome, method: string): Verdict {
  if (o.kind !== "answer") return o.kind === "open-stream" ? { violation: "open stream", rejected: true, answer: "open" } : noAnswer(o);
  const a = o.answer;
  const answer = `HTTP ${a.status} ${bodyText(a)}`;
  const rejected = a.status >= 300;
  if (isServerError(a.status)) return { violation: `HTTP ${a.status}`, rejected, answer };
  if (method === "HEAD") return { rejected, answer };
  // A server-streaming path (GET /api/v1/events) answers a stream of events, refused calls JSON.
  if (a.status === 200 && /^text\/event-stream/.test(a.headers["content-type"] ?? "")) return { rejected, answer: "HTTP 200 event stream" };
  const body = parseJsonBody(a) as { code?: unknown; message?: unknown } | undefined;
  if (body === undefined) return { violation: "the body is not JSON", rejected, answer };
  if (rejected && (typeof body.code !== "string" || typeof body.message !== "string")) return { violation: "error body lacks code or message", rejected, answer };
  return { rejected, answer };
}

/**
 * Any HTTP/1.1 answer to any request: never a 5xx other than 503, never
 * silence; a JSON content-type means a JSON body. A request that ends before
 * the body its content-length promised may instead be closed unanswered, and
 * a bidi RPC path may answer 505 (see checkConnectUnary).
 */
export function checkAnyHttp(o: WireOutcome, method: string, truncated: boolean, bidiPath: boolean): Verdict {
  if (o.kind === "broken" && truncated) return { rejected: true, answer: "closed (truncated request)" };
  if (o.kind !== "answer") return o.kind === "open-stream" ? { violation: "open stream", rejected: true, answer: "open" } : noAnswer(o);
  const a = o.answer;
  const answer = `HTTP ${a.status} ${bodyText(a)}`;
  const rejected = a.status >= 300;
  if (isServerError(a.status) && !(bidiPath && a.status === 505)) return { violation: `HTTP ${a.status}`, rejected, answer };
  if (method !== "HEAD" && /json/.test(a.headers["content-type"] ?? "") && a.body.length > 0 && parseJsonBody(a) === undefined) {
    return { violation: "content-type says JSON, the body is not", rejected, answer };
  }
  return { rejected, answer };
}
