import { create } from "@bufbuild/protobuf";
import type { Http2ServerRequest } from "node:http2";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AgentService, AgentStreamResponseSchema } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import type { LimitsConfig } from "../../src/config/config.js";
import { accessPolicy } from "../../src/rpc/access-policy.js";
import { CallGuard, type GuardDeps } from "../../src/rpc/call-guard.js";
import { CallPipeline } from "../../src/rpc/call-pipeline.js";
import { createGrpcFastPath, fastMethod } from "../../src/rpc/grpc-fast-path.js";
import { fastStream } from "../../src/rpc/grpc-fast-stream.js";

const limits: LimitsConfig = { maxMessageBytes: 1024, ratePerSecond: 0, rpcTimeoutMs: 1000, maxStreams: 10, maxStreamsPerClient: 10, jobLogBytes: 1024, authFailuresPerMinute: 0 };
// Deciding which calls are served reads only the access policy: the guard needs no stores for it.
const policy = accessPolicy([AgentService, ChunkIndexService]);
const pipeline = new CallPipeline(new CallGuard({ limits, policy } as GuardDeps), pino({ level: "silent" }));
const answer = async function* () {
  yield create(AgentStreamResponseSchema);
};
const fast = createGrpcFastPath({
  unary: [fastMethod(ChunkIndexService.method.getChunkLocations, () => ({ locations: [] }))],
  streams: [fastStream(AgentService.method.agentStream, answer)],
  pipeline,
  maxMessageBytes: 1024,
  shutdown: new AbortController().signal,
});

const AGENT = "/capstan.v1.AgentService/AgentStream";
const CHUNKS = "/capstan.v1.ChunkIndexService/GetChunkLocations";
const request = (over: { url?: string; method?: string; httpVersionMajor?: number; headers?: Record<string, string> }) =>
  ({ url: AGENT, method: "POST", httpVersionMajor: 2, ...over, headers: { "content-type": "application/grpc", ...over.headers } }) as unknown as Http2ServerRequest;

describe("which calls the gRPC fast path serves", () => {
  it.each([
    ["plain gRPC to the agent stream", true, {}],
    ["plain gRPC+proto to chunk lookups", true, { url: CHUNKS, headers: { "content-type": "application/grpc+proto" } }],
    ["an explicit identity encoding", true, { headers: { "grpc-encoding": "identity" } }],
    ["gzip-compressed gRPC", false, { headers: { "grpc-encoding": "gzip" } }],
    ["gRPC with a deadline", false, { headers: { "grpc-timeout": "10S" } }],
    ["gRPC-Web", false, { headers: { "content-type": "application/grpc-web+proto" } }],
    ["gRPC with JSON", false, { headers: { "content-type": "application/grpc+json" } }],
    ["the Connect protocol", false, { headers: { "content-type": "application/connect+proto" } }],
    ["HTTP/1.1", false, { httpVersionMajor: 1 }],
    ["a GET", false, { method: "GET" }],
    ["another method of the same service", false, { url: "/capstan.v1.AgentService/ListAgents" }],
  ])("%s: fast path %s", (_what, served, over) => {
    expect(fast.handles(request(over))).toBe(served);
  });
});

describe("which streams the gRPC fast path takes", () => {
  it("refuses a stream that the pipeline must admit: the fast path opens streams without awaiting a guard", () => {
    const listAgents = { ...AgentService.method.agentStream, name: "ListAgents" };
    expect(() =>
      createGrpcFastPath({ unary: [], streams: [fastStream(listAgents, answer)], pipeline, maxMessageBytes: 1024, shutdown: new AbortController().signal }),
    ).toThrow(/ListAgents needs admission/);
  });
});
