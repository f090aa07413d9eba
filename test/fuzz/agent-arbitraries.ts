import { create, type JsonObject } from "@bufbuild/protobuf";
import fc from "fast-check";
import { AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import type { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import type { SeedIds } from "./samples.js";

/** Text that is sometimes empty, sometimes unicode, sometimes long. */
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 5000 }).map((n) => "n".repeat(n)) },
);

// Doubles include NaN, ±Infinity and -0 by default: metrics must survive them.
const metric = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e308, -1, 0, 101));
const uint32 = fc.oneof(fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff), fc.nat());
// Open enums: numbers past the last value travel as they are.
const jobStatus = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(-1, 99, 2147483647, -2147483648));

/** Random AgentStream messages, with ids drawn partly from the seeded state. */
export function agentMessage(ids: SeedIds): fc.Arbitrary<AgentStreamRequest> {
  const nodeId = fc.oneof(fc.constantFrom("", ...ids.nodeIds), text);
  const secret = fc.oneof(fc.constantFrom("", ids.nodeToken, ids.apiToken, "cpn_bogus"), text);
  const hello = fc.record({
    nodeId,
    nodeToken: secret,
    joinToken: secret,
    name: fc.oneof(fc.constantFrom("fuzz-seed-0", "fuzz-seed-2"), text),
    address: fc.oneof(fc.constantFrom("10.1.2.3", "::1", "999.1.1.1", "not an address"), text),
    agentVersion: text,
    labels: fc.dictionary(text, text, { maxKeys: 3 }),
    tags: fc.array(text, { maxLength: 3 }),
    ports: fc.dictionary(text, uint32, { maxKeys: 3 }),
    knownJobIds: fc.array(fc.oneof(fc.constant(ids.jobId), text), { maxLength: 3 }),
    capabilities: fc.option(fc.record({ os: text, cpuCount: uint32, memMb: uint32, diskMb: uint32 }), { nil: undefined }),
  });
  const heartbeat = fc.record({
    metrics: fc.option(
      fc.record({
        cpuUsage: metric, memUsage: metric, diskFreeMb: uint32, runningContainers: fc.array(text, { maxLength: 3 }), memoryUsedMb: uint32, diskUsedMb: uint32,
        cacheHitRate: metric, totalChunks: uint32, activeConnections: uint32, uploadSpeedMbps: metric, downloadSpeedMbps: metric, load1: metric,
      }),
      { nil: undefined },
    ),
  });
  const commandUpdate = fc.record({
    jobId: fc.oneof(fc.constantFrom(ids.jobId, ""), text),
    status: jobStatus,
    lines: fc.array(fc.record({ stream: fc.oneof(fc.constantFrom("stdout", "stderr", "agent"), text), text }), { maxLength: 3 }),
    exitCode: fc.integer({ min: -2147483648, max: 2147483647 }),
    error: text,
    result: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), { nil: undefined }),
  });
  const chunkReport = fc.record({
    full: fc.boolean(),
    chunks: fc.array(fc.record({ chunkId: fc.oneof(fc.constant(ids.chunkId), text), sizeBytes: metric, metadata: fc.dictionary(text, text, { maxKeys: 2 }) }), { maxLength: 4 }),
    removedChunkIds: fc.array(fc.oneof(fc.constant(ids.chunkId), text), { maxLength: 3 }),
  });
  return fc.oneof(
    hello.map((value) => create(AgentStreamRequestSchema, { message: { case: "hello", value } })),
    heartbeat.map((value) => create(AgentStreamRequestSchema, { message: { case: "heartbeat", value } })),
    commandUpdate.map(({ status, result, ...value }) =>
      create(AgentStreamRequestSchema, { message: { case: "commandUpdate", value: { ...value, status: status as JobStatus, result: result as JsonObject | undefined } } }),
    ),
    chunkReport.map((value) => create(AgentStreamRequestSchema, { message: { case: "chunkReport", value } })),
    fc.constant(create(AgentStreamRequestSchema, {})),
  );
}

/**
 * Sequences of agent messages. Half start with a hello the server accepts
 * (the seeded node's own token, or a fresh registration, which is open
 * without a join token), so what follows reaches the stream's read loop.
 */
export function agentSequence(ids: SeedIds): fc.Arbitrary<AgentStreamRequest[]> {
  const validHello = fc.constantFrom(
    create(AgentStreamRequestSchema, { message: { case: "hello", value: { nodeId: ids.nodeIds[1], nodeToken: ids.nodeToken, name: "fuzz-seed-1", address: "10.0.0.2" } } }),
    create(AgentStreamRequestSchema, { message: { case: "hello", value: { name: "fuzz-agent", address: "10.7.0.1" } } }),
  );
  const rest = fc.array(agentMessage(ids), { maxLength: 8 });
  return fc.oneof(rest, fc.tuple(validHello, rest).map(([h, r]) => [h, ...r]));
}
