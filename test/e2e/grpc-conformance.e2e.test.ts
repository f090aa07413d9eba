import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { eventually } from "../support/agent-process.js";
import { connectEsClient, grpcJsClient, pythonClient, type CallResult, type CallSpec, type ConformanceClient } from "../support/conformance-clients.js";
import { TAMPER_HEADER, startTamperProxy, type Tamper } from "../support/tamper-proxy.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { H2Client, grpcFrame, grpcStatus } from "../support/wire.js";

/**
 * Every status the gRPC fast paths (src/rpc/grpc-fast-path.ts,
 * grpc-fast-stream.ts) can answer, made by three client implementations
 * (connect-es, grpc-js, Python grpcio), once against a server with the fast
 * paths and once against one with GRPC_FAST_PATHS=0, where connect-node serves
 * every call. Each client must read the same status code, message and
 * metadata on both: connect-node's answer is the reference, and the table
 * says what that answer is. (A grpc-timeout would also send a call to
 * connect-node, but it changes the deadline case, so the switch is used.)
 * No fast-path error is NotFound: chunk lookups answer unknown ids with empty
 * locations, and agent streams refuse unknown nodes as Unauthenticated.
 */

const JOIN = "join-token-conformance-0123456789";
const ADMIN = "admin-token-conformance-0123456789";
const MAX_MESSAGE_BYTES = 128 * 1024;

type Profile = "main" | "rate" | "deadline" | "shutdown";
type PathName = "fast path" | "connect-node";

const PROFILES: Record<Profile, Record<string, string>> = {
  main: { CAPSTAN_DEV: "0", RATE_LIMIT: "0" },
  // Two calls a second per caller: the third within a second is refused.
  rate: { CAPSTAN_DEV: "0", RATE_LIMIT: "2" },
  // A lookup of 10,000 ids held by 3 nodes each (reported over agent streams, which RPC_TIMEOUT
  // does not bound) takes several milliseconds on any machine; RPC_TIMEOUT is 1 ms.
  deadline: { CAPSTAN_DEV: "1", RPC_TIMEOUT: "1ms" },
  // A server of its own for each call: the call stops it.
  shutdown: { CAPSTAN_DEV: "0", RATE_LIMIT: "0" },
};
const PATHS: Record<PathName, Record<string, string>> = { "fast path": {}, "connect-node": { GRPC_FAST_PATHS: "0" } };

/** A server of a profile on one path, with two registered nodes (a holds chunk c-1). */
interface Target {
  server: TestServer;
  a: { id: string; token: string };
  b: { id: string; token: string };
  proxy?: { target: string; close(): Promise<void> };
}

interface CaseContext extends Target {
  /** Unique per case, client and path: for agent names. */
  tag: string;
}

interface Case {
  name: string;
  profile: Profile;
  /** Sent through the tamper proxy, which breaks the first frame so. */
  tamper?: Tamper;
  call(ctx: CaseContext): Omit<CallSpec, "target">;
  /** connect-node's answer, which the fast path must give too. */
  expect: { code: Code | 0; message: RegExp; metadata?: Record<string, string>; responses?: string[] };
  /** Run when a bidi call's first answer came (spec.after "ready"). */
  whileOpen?(ctx: CaseContext): Promise<void>;
  /** What the server shows after the call; compared across paths too. */
  afterwards?(ctx: CaseContext): Promise<unknown>;
  /** Parts of the answer that differ from call to call (a retry time). */
  normalize?(r: CallResult): CallResult;
}

const lookup = (ids: string[]) => ({ json: { chunkIds: ids } });
const hello = (fields: Record<string, string>) => ({ json: { hello: { address: "10.1.0.1", ...fields } } });
const ids = (n: number, prefix = "k") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const unary = (metadata: Record<string, string>, messages: CallSpec["messages"]) => ({ method: "GetChunkLocations" as const, shape: "unary" as const, metadata, messages });
const bidi = (messages: CallSpec["messages"], more: Partial<CallSpec> = {}) => ({ method: "AgentStream" as const, shape: "bidi" as const, metadata: {}, messages, ...more });

const CASES: Case[] = [
  // GetChunkLocations (unary)
  { name: "lookup answered", profile: "main", call: (c) => unary(bearer(c.a.token), [lookup(["c-1", "nope"])]), expect: { code: 0, message: /^$/, responses: ["locations:2"] } },
  { name: "lookup without a token", profile: "main", call: () => unary({}, [lookup(["c-1"])]), expect: { code: Code.Unauthenticated, message: /^this call needs a bearer token \(Authorization: Bearer <token>\)$/ } },
  { name: "lookup with an unknown token", profile: "main", call: () => unary(bearer("cap_wrong"), [lookup(["c-1"])]), expect: { code: Code.Unauthenticated, message: /^the bearer token is not valid/ } },
  { name: "lookup with the join token", profile: "main", call: () => unary(bearer(JOIN), [lookup(["c-1"])]), expect: { code: Code.PermissionDenied, message: /^the join token may only register nodes$/ } },
  {
    name: "lookup of too many ids (the handler refuses)", profile: "main", call: (c) => unary(bearer(c.a.token), [lookup(ids(10_001))]),
    expect: { code: Code.InvalidArgument, message: /^chunk_ids: must have at most 10000 entries$/, metadata: { "capstan-field": "chunk_ids" } },
  },
  {
    name: "lookups over the rate limit", profile: "rate", call: (c) => ({ ...unary(bearer(c.a.token), [lookup(["c-1"])]), repeat: 20 }),
    expect: { code: Code.ResourceExhausted, message: /^rate limit of 2 calls per second exceeded; retry in N ms$/, metadata: { "retry-after": "1" } }, normalize: (r) => ({ ...r, message: r.message.replace(/\d+ ms/, "N ms") }),
  },
  {
    name: "lookup larger than MAX_MESSAGE_BYTES", profile: "main", call: (c) => unary(bearer(c.a.token), [lookup(ids(20_000, "long-id-"))]),
    expect: { code: Code.ResourceExhausted, message: /^message size \d+ is larger than configured readMaxBytes 131072$/ },
  },
  { name: "lookup in a frame flagged compressed", profile: "main", tamper: "compressed-flag", call: (c) => unary(bearer(c.a.token), [lookup(["c-1"])]), expect: { code: Code.Internal, message: /^received compressed envelope, but do not know how to decompress$/ } },
  { name: "lookup in a truncated frame", profile: "main", tamper: "truncate", call: (c) => unary(bearer(c.a.token), [lookup(["c-1"])]), expect: { code: Code.InvalidArgument, message: /^protocol error: incomplete envelope$/ } },
  { name: "lookup that is not protobuf", profile: "main", call: (c) => unary(bearer(c.a.token), [{ hex: "0aff" }]), expect: { code: Code.Internal, message: /^parse binary: / } },
  {
    name: "lookup sent as two messages", profile: "main", call: (c) => ({ ...unary(bearer(c.a.token), [lookup(["c-1"]), lookup(["c-2"])]), shape: "client-stream" }),
    expect: { code: Code.Unimplemented, message: /^protocol error: received extra input message for unary method$/ },
  },
  {
    name: "lookup sent as no message", profile: "main", call: (c) => ({ ...unary(bearer(c.a.token), []), shape: "client-stream" }),
    expect: { code: Code.Unimplemented, message: /^protocol error: missing input message for unary method$/ },
  },
  { name: "lookup outliving RPC_TIMEOUT", profile: "deadline", call: () => unary({}, [lookup(ids(10_000))]), expect: { code: Code.DeadlineExceeded, message: /^the call did not finish within 1 ms$/ } },

  // AgentStream (bidirectional)
  { name: "agent welcomed, then half-closes", profile: "main", call: (c) => bidi([hello({ name: c.tag, joinToken: JOIN })], { halfClose: true }), expect: { code: 0, message: /^$/, responses: ["welcome"] } },
  { name: "agent with a wrong join token", profile: "main", call: (c) => bidi([hello({ name: c.tag, joinToken: "wrong-join-token-0123" })]), expect: { code: Code.Unauthenticated, message: /^a valid join token is required to register a node$/, responses: [] } },
  { name: "agent with another node's token", profile: "main", call: (c) => bidi([hello({ name: "a", nodeId: c.a.id, nodeToken: c.b.token })]), expect: { code: Code.PermissionDenied, message: /^the token of node "node-b" cannot act for node "node-a"$/, responses: [] } },
  {
    name: "agent whose first message is no hello", profile: "main", call: () => bidi([{ json: { heartbeat: { metrics: { cpuUsage: 1 } } } }]),
    expect: { code: Code.InvalidArgument, message: /^hello: the first message on an agent stream must be a hello$/, metadata: { "capstan-field": "hello" }, responses: [] },
  },
  {
    name: "agent hello larger than MAX_MESSAGE_BYTES", profile: "main", call: (c) => bidi([hello({ name: "too-big", joinToken: JOIN, address: "x".repeat(MAX_MESSAGE_BYTES) })]),
    expect: { code: Code.ResourceExhausted, message: /^message size \d+ is larger than configured readMaxBytes 131072$/, responses: [] },
  },
  {
    name: "agent hello in a frame flagged compressed", profile: "main", tamper: "compressed-flag", call: (c) => bidi([hello({ name: c.tag, joinToken: JOIN })]),
    expect: { code: Code.Internal, message: /^received compressed envelope, but do not know how to decompress$/, responses: [] },
  },
  { name: "agent hello in a truncated frame", profile: "main", tamper: "truncate", call: (c) => bidi([hello({ name: c.tag, joinToken: JOIN })], { halfClose: true }), expect: { code: Code.InvalidArgument, message: /^protocol error: incomplete envelope$/, responses: [] } },
  { name: "agent hello that is not protobuf", profile: "main", call: () => bidi([{ hex: "0aff" }]), expect: { code: Code.Internal, message: /^parse binary: /, responses: [] } },
  {
    name: "agent cancels after its welcome", profile: "main", call: (c) => bidi([hello({ name: c.tag, joinToken: JOIN })], { after: "cancel" }),
    // The client ends the call and reads its own status; the server must let the node go.
    expect: { code: Code.Canceled, message: /./, responses: ["welcome"] },
    afterwards: async (c) => {
      const nodes = createClient(NodeService, c.server.withToken(ADMIN).grpc);
      return eventually(async () => ((await nodes.listNodes({})).nodes.find((n) => n.name === c.tag)?.connected === false ? "disconnected" : undefined), 10_000, "the node disconnected");
    },
  },
  {
    name: "agent stream open when the server shuts down", profile: "shutdown", call: (c) => bidi([hello({ name: c.tag, joinToken: JOIN })], { after: "ready" }),
    // Sessions are closed before the server stops: the stream ends cleanly, and the agent reconnects elsewhere.
    expect: { code: 0, message: /^$/, responses: ["welcome"] },
    whileOpen: (c) => c.server.stop(),
  },
];

/** Three agents report holding `chunkIds`; their streams stay open until the server stops. */
async function holdChunks(server: TestServer, chunkIds: string[]): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const outbox = new AsyncQueue<AgentStreamRequest>();
    const answers = createClient(AgentService, server.grpc).agentStream(outbox)[Symbol.asyncIterator]();
    outbox.push(create(AgentStreamRequestSchema, { message: { case: "hello", value: { name: `holder-${i}`, joinToken: JOIN, address: `10.2.0.${i}` } } }));
    await answers.next();
    outbox.push(create(AgentStreamRequestSchema, { message: { case: "chunkReport", value: { full: true, chunks: chunkIds.map((chunkId) => ({ chunkId })) } } }));
  }
  const chunks = createClient(ChunkIndexService, server.grpc);
  await eventually(async () => ((await chunks.getChunkLocations({ chunkIds: [chunkIds[0]] })).locations[0]?.peerIds.length === 3 ? true : undefined), 10_000, "chunks held by 3 nodes");
}

const CLIENTS: Array<[string, () => ConformanceClient]> = [["connect-es", connectEsClient], ["grpc-js", grpcJsClient], ["python grpcio", pythonClient]];

describe.each(CLIENTS)("gRPC answers read by %s: the fast path answers as connect-node", (_name, make) => {
  const targets = new Map<string, Promise<Target>>();
  const stopped: Target[] = [];
  let client: ConformanceClient;

  async function startTarget(profile: Profile, path: PathName): Promise<Target> {
    const dir = mkdtempSync(join(tmpdir(), "capstan-conformance-"));
    const server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_JOIN_TOKEN: JOIN, CAPSTAN_ADMIN_TOKEN: ADMIN, MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      ...PROFILES[profile], ...PATHS[path],
    });
    const nodes = createClient(NodeService, server.withToken(ADMIN).grpc);
    const register = async (name: string) => {
      const r = await nodes.registerNode({ nodeId: name, name, address: "10.0.0.1" });
      return { id: r.nodeId || name, token: r.nodeToken };
    };
    // Registering is a unary call too: on the deadline profile it would outlive RPC_TIMEOUT (that profile's cases need no node).
    const none = { id: "", token: "" };
    if (profile === "deadline") await holdChunks(server, ids(10_000));
    const target: Target = profile === "deadline" ? { server, a: none, b: none } : { server, a: await register("node-a"), b: await register("node-b") };
    stopped.push(target);
    return target;
  }

  async function targetFor(c: Case, path: PathName): Promise<Target> {
    let target: Target;
    if (c.profile === "shutdown") target = await startTarget(c.profile, path);
    else {
      const key = `${c.profile}/${path}`;
      if (!targets.has(key)) targets.set(key, startTarget(c.profile, path));
      target = await targets.get(key)!;
    }
    if (c.tamper && !target.proxy) target.proxy = await startTamperProxy(target.server.url);
    return target;
  }

  async function run(c: Case, path: PathName): Promise<{ result: CallResult; afterwards: unknown }> {
    const target = await targetFor(c, path);
    const ctx: CaseContext = { ...target, tag: `${c.name}-${client.name}-${path}`.replace(/[^a-z0-9]+/gi, "-").toLowerCase() };
    const spec = c.call(ctx);
    const metadata = c.tamper ? { ...spec.metadata, [TAMPER_HEADER]: c.tamper } : spec.metadata;
    const address = c.tamper ? target.proxy!.target : target.server.url.replace("http://", "");
    const raw = await client.call({ ...spec, metadata, target: address }, c.whileOpen && (() => c.whileOpen!(ctx)));
    const normalized = c.normalize ? c.normalize(raw) : raw;
    // What a stream sends after its first answer (a chunk report request) races the call's end.
    const result = spec.shape === "bidi" ? { ...normalized, responses: normalized.responses.slice(0, 1) } : normalized;
    return { result, afterwards: await c.afterwards?.(ctx) };
  }

  beforeAll(() => {
    client = make();
  });
  afterAll(async () => {
    await client?.close();
    for (const t of stopped) {
      await t.proxy?.close();
      if (t.server) await t.server.stop().catch(() => {});
    }
  });

  it("compares the fast path with connect-node: the two columns are served by the two paths", async () => {
    // Both forms are gRPC: the fast path answers an error trailers-only (one HEADERS frame),
    // connect-node with headers, then trailers carrying the status.
    const servedBy = async (path: PathName) => {
      const target = await targetFor(CASES[0], path);
      const raw = new H2Client(target.server.url);
      const outcome = await raw.request("/capstan.v1.ChunkIndexService/GetChunkLocations", { "content-type": "application/grpc", te: "trailers", ...bearer(target.a.token) }, grpcFrame(Uint8Array.of(0x0a, 0xff)), { timeoutMs: 5000, streaming: false });
      raw.close();
      expect(grpcStatus(outcome).code).toBe(Code.Internal);
      return outcome.kind === "answer" && outcome.answer.headersEndStream ? "fast path" : "connect-node";
    };
    expect(await servedBy("fast path")).toBe("fast path");
    expect(await servedBy("connect-node")).toBe("connect-node");
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_label, c) => {
    const reference = await run(c, "connect-node");
    const fast = await run(c, "fast path");
    const name = (code: number) => Code[code] ?? (code === 0 ? "Ok" : String(code));
    // grpc-js shows grpc-message as it came, percent-encoded ("%3A" for ":"); the others decode it.
    expect({ path: "connect-node", code: name(reference.result.code), message: decodeURIComponent(reference.result.message) }).toMatchObject({ code: name(c.expect.code), message: expect.stringMatching(c.expect.message) });
    if (c.expect.metadata) expect(reference.result.metadata).toMatchObject(c.expect.metadata);
    if (c.expect.responses) expect(reference.result.responses).toEqual(c.expect.responses);
    expect({ path: "fast path", ...fast }).toEqual({ path: "fast path", ...reference });
  });
});
