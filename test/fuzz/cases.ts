import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import fc from "fast-check";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { SERVICES } from "../../src/app/app.js";
import {
  credential, credentialHeaders, framing, headerName, headerValue, mutateBytes, mutateJson, payload, queryString, rawSegment, restBody,
  type Credential, type Framing, type Payload, type RestBody,
} from "./arbitraries.js";
import { checkAnyHttp, checkConnectUnary, checkGrpc, checkRest } from "./checks.js";
import { REFLECTION_PATHS, rpcTargets, sampleJson, seedBodies, type SeedIds } from "./samples.js";
import type { CaseResult, FuzzTarget } from "./target.js";
import { grpcFrame, httpRequest, rawHttp, type H2Client } from "../support/wire.js";

type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** Every RPC path with its kind; reflection (no descriptor in SERVICES) is bidi. */
export const RPCS: ReadonlyArray<{ path: string; kind: MethodKind }> = [
  ...rpcTargets().map((t) => ({ path: t.path, kind: t.method.methodKind as MethodKind })),
  ...REFLECTION_PATHS.map((path) => ({ path, kind: "bidi_streaming" as const })),
];

// Generous: the machine may be busy with other suites; a real hang still fails.
const TIMEOUT_MS = 10_000;
const BIDI_PATHS = new Set(RPCS.filter((r) => r.kind === "bidi_streaming").map((r) => r.path));

/** The seeded secrets, for credentials. */
export function secretsOf(t: FuzzTarget) {
  return { admin: t.server.adminToken, reader: t.ids.apiToken, node: t.ids.nodeToken };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

function bytesOf(p: Payload, samples: Map<string, Uint8Array[]>, path: string): Uint8Array {
  if (p.kind === "random") return p.bytes;
  const list = samples.get(path) ?? [new Uint8Array()];
  return mutateBytes(list[p.sample % list.length], p.mutations);
}

function frame(bytes: Uint8Array, f: Framing): Buffer {
  switch (f.kind) {
    case "frame":
      return grpcFrame(bytes);
    case "unframed":
      return Buffer.from(bytes);
    case "length":
      return grpcFrame(bytes, { declaredLength: Math.max(0, bytes.length + f.delta) });
    case "compressed":
      return grpcFrame(bytes, { compressed: true });
    case "twice":
      return Buffer.concat([grpcFrame(bytes), grpcFrame(bytes)]);
    case "huge":
      return grpcFrame(bytes, { declaredLength: 0x7fffffff });
    case "empty":
      return Buffer.alloc(0);
  }
}

/** (a) A protobuf request over gRPC: which RPC, what bytes, how framed, with which credential. */
export const grpcCase = fc.record({
  rpc: fc.constantFrom(...RPCS),
  payload,
  framing,
  contentType: fc.constantFrom("application/grpc", "application/grpc", "application/grpc+proto", "application/grpc+json"),
  credential,
  timeout: fc.option(fc.constantFrom("1n", "100m", "5S", "99999999H", "bogus", "-1m"), { nil: undefined }),
});

/** Sends a gRPC case on the shared h2c connection and judges the answer. */
export async function runGrpcCase(t: FuzzTarget, h2: H2Client, samples: Map<string, Uint8Array[]>, c: GrpcCase): Promise<CaseResult> {
  const bytes = bytesOf(c.payload, samples, c.rpc.path);
  const body = frame(bytes, c.framing);
  const headers: Record<string, string> = { "content-type": c.contentType, te: "trailers", ...credentialHeaders(c.credential, secretsOf(t)) };
  if (c.timeout) headers["grpc-timeout"] = c.timeout;
  const outcome = await h2.request(c.rpc.path, headers, body, { timeoutMs: TIMEOUT_MS, streaming: c.rpc.kind !== "unary" });
  const v = checkGrpc(outcome, c.rpc.kind !== "unary");
  return { ...v, summary: `gRPC ${c.rpc.path} ${c.contentType} ${c.credential} ${c.timeout ?? ""} framing=${JSON.stringify(c.framing)} body=${hex(body)} → ${v.answer}` };
}
/** A generated gRPC case. */
export type GrpcCase = typeof grpcCase extends fc.Arbitrary<infer T> ? T : never;

/** (a) A protobuf request as Connect unary over HTTP/1.1. */
export const connectCase = fc.record({
  rpc: fc.constantFrom(...RPCS),
  payload,
  contentType: fc.constantFrom("application/proto", "application/proto", "application/proto", "application/json"),
  credential,
  protocolVersion: fc.boolean(),
});
/** A generated Connect case. */
export type ConnectCase = typeof connectCase extends fc.Arbitrary<infer T> ? T : never;

/** Sends a Connect unary case and judges the answer. */
export async function runConnectCase(t: FuzzTarget, samples: Map<string, Uint8Array[]>, c: ConnectCase): Promise<CaseResult> {
  const body = bytesOf(c.payload, samples, c.rpc.path);
  const headers: Record<string, string> = { "content-type": c.contentType, ...credentialHeaders(c.credential, secretsOf(t)) };
  if (c.protocolVersion) headers["connect-protocol-version"] = "1";
  const outcome = await httpRequest(t.server.url, { method: "POST", path: c.rpc.path, headers, body, timeoutMs: TIMEOUT_MS });
  const v = checkConnectUnary(outcome, c.rpc.kind);
  return { ...v, summary: `Connect POST ${c.rpc.path} ${c.contentType} ${c.credential} body=${hex(body)} → ${v.answer}` };
}

/** A REST binding as the OpenAPI document lists it. */
export interface RestRoute {
  method: string;
  template: string;
  operationId: string;
}

/** Reads every (method, path) of GET /openapi.json. */
export async function restRoutes(url: string): Promise<RestRoute[]> {
  const res = await httpRequest(url, { method: "GET", path: "/openapi.json", timeoutMs: 10_000 });
  if (res.kind !== "answer" || res.answer.status !== 200) throw new Error(`GET /openapi.json: ${res.kind}`);
  const doc = JSON.parse(res.answer.body.toString()) as { paths: Record<string, Record<string, { operationId: string }>> };
  return Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), template, operationId: op.operationId })),
  );
}

// Path parameters that still name one segment: "." and ".." would be resolved away by URL parsing (random paths cover those).
const restParam = (ids: SeedIds) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ids.nodeIds, ids.deploymentId, ids.jobId, ids.tokenId, ids.chunkId, ids.serviceName, ids.projectName) },
    { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 16 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: rawSegment },
  ).filter((s) => s !== "" && s !== "." && s !== "..");

/** (b) A REST call on a real binding: route (by index), path parameters, query, body. */
export const restCase = (routes: RestRoute[], ids: SeedIds) =>
  fc.record({
    route: fc.constantFrom(...routes),
    params: fc.array(restParam(ids), { minLength: 3, maxLength: 3 }),
    query: queryString,
    body: restBody,
  });
/** A generated REST case. */
export type RestCase = { route: RestRoute; params: string[]; query: string; body: RestBody };

function restBodyText(c: RestCase, ids: SeedIds): string | undefined {
  switch (c.body.kind) {
    case "none":
      return undefined;
    case "text":
      return c.body.text;
    case "json":
      return JSON.stringify(c.body.value);
    case "seed": {
      const method = SERVICES.flatMap((s) => s.methods.map((m) => ({ id: `${s.name}_${m.name}`, m }))).find((x) => c.route.operationId.startsWith(x.id))?.m;
      const seeds = [...(seedBodies(ids)[`${c.route.method} ${c.route.template}`] ?? []), ...(method ? [sampleJson(method, ids)] : [{}])];
      return mutateJson(seeds[c.body.seed % seeds.length], c.body.mutations);
    }
  }
}

/** Sends a REST case with the admin token and judges the answer. */
export async function runRestCase(t: FuzzTarget, c: RestCase): Promise<CaseResult> {
  let i = 0;
  const path = c.route.template.replace(/\{[^}]+\}/g, () => c.params[i++ % c.params.length]) + c.query;
  const body = restBodyText(c, t.ids);
  const headers: Record<string, string> = { "content-type": "application/json", authorization: `Bearer ${t.server.adminToken}` };
  const outcome = await httpRequest(t.server.url, { method: c.route.method, path, headers, body, timeoutMs: TIMEOUT_MS });
  const v = checkRest(outcome, c.route.method);
  return { ...v, summary: `REST ${c.route.method} ${path.slice(0, 300)} body=${(body ?? "").slice(0, 500)} → ${v.answer}` };
}

/** (c) Any request line, headers and body, written byte for byte. */
export const rawCase = (routes: RestRoute[], secrets: { admin: string; reader: string; node: string }) =>
  fc.record({
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH") },
      { weight: 1, arbitrary: fc.constantFrom("BREW", "get", "PRI") },
    ),
    path: fc.tuple(
      fc.oneof(
        { weight: 3, arbitrary: fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)) },
        {
          weight: 3,
          arbitrary: fc.tuple(fc.constantFrom(...routes.map((r) => r.template)), fc.array(rawSegment, { minLength: 3, maxLength: 3 })).map(([tpl, segs]) => {
            let i = 0;
            return tpl.replace(/\{[^}]+\}/g, () => segs[i++]);
          }),
        },
        { weight: 2, arbitrary: fc.array(rawSegment, { maxLength: 5 }).map((s) => `/${s.join("/")}`) },
        { weight: 2, arbitrary: fc.constantFrom(...RPCS.map((r) => r.path)) },
        { weight: 1, arbitrary: fc.constantFrom("*", "//", "/..", "/%", "http://127.0.0.1/health", "/docs", "/openapi.json", "/ws", "/health/", "/HEALTH", "/api/v1/nodes/%ED%A0%80") },
        // Long, but mostly under Node's 16 KiB header limit, so the router sees them.
        { weight: 1, arbitrary: fc.integer({ min: 2000, max: 20_000 }).map((n) => `/${"p".repeat(n)}`) },
      ),
      queryString,
    ).map(([p, q]) => p + q),
    headers: fc.array(fc.tuple(headerName, headerValue(secrets)), { maxLength: 6 }),
    body: fc.oneof(fc.constant(""), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("latin1"))),
    length: fc.constantFrom("exact", "exact", "omit", "shorter", "longer"),
  });
/** A generated raw case. */
export type RawCase = { method: string; path: string; headers: Array<[string, string]>; body: string; length: string };

/** Writes a raw case on a fresh connection and judges the answer. */
export async function runRawCase(t: FuzzTarget, c: RawCase): Promise<CaseResult> {
  const body = Buffer.from(c.body, "latin1");
  const lines = [`${c.method} ${c.path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...c.headers.map(([k, v]) => `${k}: ${v}`)];
  if (c.length === "exact") lines.push(`Content-Length: ${body.length}`);
  if (c.length === "shorter") lines.push(`Content-Length: ${Math.max(0, body.length - 3)}`);
  if (c.length === "longer") lines.push(`Content-Length: ${body.length + 10}`);
  // The body may end before what a content-length or transfer-encoding promised: say so by closing our side.
  const truncated = c.length === "longer" || c.headers.some(([k]) => k === "content-length" || k === "transfer-encoding");
  const bytes = Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]);
  const outcome = await rawHttp(t.server.port, bytes, TIMEOUT_MS, truncated);
  const v = checkAnyHttp(outcome, c.method, truncated, BIDI_PATHS.has(c.path.split("?")[0]));
  return { ...v, summary: `raw ${JSON.stringify(bytes.toString("latin1").slice(0, 1500))} → ${v.answer}` };
}

/**
 * Sends a sequence on a fresh AgentStream and ends it. The call must end with
 * success or a proper error; a stream the server accepted (it sent a Welcome)
 * may stay open, and is then cancelled by us after a while.
 */
export async function runAgentCase(t: FuzzTarget, client: Client<typeof AgentService>, seq: AgentStreamRequest[], cred: Credential): Promise<CaseResult> {
  const abort = new AbortController();
  let welcome = false;
  let stoppedByUs = false;
  const timer = setTimeout(() => {
    stoppedByUs = true;
    abort.abort();
  }, TIMEOUT_MS);
  let error: ConnectError | undefined;
  async function* requests() {
    yield* seq;
  }
  try {
    for await (const res of client.agentStream(requests(), { signal: abort.signal, headers: credentialHeaders(cred, secretsOf(t)) })) {
      if (res.message.case === "welcome") welcome = true;
    }
  } catch (err) {
    error = ConnectError.from(err);
  } finally {
    clearTimeout(timer);
  }
  const input = `AgentStream ${cred} [${seq.map((m) => toJsonString(AgentStreamRequestSchema, m)).join(", ")}]`.slice(0, 3000);
  const answer = `${welcome ? "welcome, " : ""}${error ? `${Code[error.code]}: ${error.rawMessage}` : "ended OK"}`;
  const summary = `${input} → ${answer}`;
  if (stoppedByUs && !welcome) return { violation: `the stream neither answered nor ended within ${TIMEOUT_MS} ms`, rejected: true, summary };
  if (stoppedByUs) return { rejected: false, summary };
  if (error && (error.code === Code.Unknown || error.code === Code.Internal)) return { violation: `the stream ended with ${Code[error.code]}`, rejected: !welcome, summary };
  return { rejected: !welcome && error !== undefined, summary };
}
