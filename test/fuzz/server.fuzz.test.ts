import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { agentSequence } from "./agent-arbitraries.js";
import { credential } from "./arbitraries.js";
import {
  connectCase, grpcCase, rawCase, restCase, restRoutes, runAgentCase, runConnectCase, runGrpcCase, runRawCase, runRestCase, secretsOf,
  type RestRoute,
} from "./cases.js";
import { rpcTargets, validSamples } from "./samples.js";
import { FuzzTarget } from "./target.js";
import { H2Client } from "../support/wire.js";

// Issue #7: random and mutated protobuf, JSON, paths, headers and agent streams against the
// real server process. Every answer must be a proper success or error, the process must keep
// running with /health at 200, and a rejected call must leave stored data as it was.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const settings = { numRuns: RUNS, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true };
// Ceilings against hangs for a failing property, whose shrinking runs many more cases.
const PROPERTY_TIMEOUT_MS = 150_000;

let target: FuzzTarget;
let h2: H2Client;
let samples: Map<string, Uint8Array[]>;
let routes: RestRoute[];
let agents: Client<typeof AgentService>;
let agentSession: Http2SessionManager;

beforeAll(async () => {
  target = await FuzzTarget.start();
  h2 = new H2Client(target.server.url);
  samples = validSamples(rpcTargets(), target.ids);
  routes = await restRoutes(target.server.url);
  agentSession = new Http2SessionManager(target.server.url);
  agents = createClient(AgentService, createGrpcTransport({ baseUrl: target.server.url, sessionManager: agentSession }));
});

afterAll(async () => {
  h2?.close();
  agentSession?.abort();
  if (!target) return;
  console.log(`fuzz: ${target.summary()}`);
  const errors = target.errorLogs();
  if (errors.length) console.log(`fuzz: server error-level log lines (first 5):\n${errors.slice(0, 5).map((l) => l.slice(0, 300)).join("\n")}`);
  await target.stop();
});

describe("fuzzing the real server process", () => {
  it("random and mutated protobuf over gRPC on every RPC gets a proper gRPC status, never Unknown or Internal", async () => {
    await fc.assert(
      fc.asyncProperty(grpcCase, (c) => target.step("a-grpc", () => runGrpcCase(target, h2, samples, c))),
      settings,
    );
  }, PROPERTY_TIMEOUT_MS);

  it("random and mutated protobuf as Connect unary on every RPC gets 200 or a JSON error, never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(connectCase, (c) => target.step("a-connect", () => runConnectCase(target, samples, c))),
      settings,
    );
  }, PROPERTY_TIMEOUT_MS);

  it("random JSON bodies and path parameters on every REST binding get JSON answers, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(restCase(routes, target.ids), (c) => target.step("b-rest", () => runRestCase(target, c))),
      settings,
    );
  }, PROPERTY_TIMEOUT_MS);

  it("random paths, headers and lying content-lengths never get a 5xx or hang", async () => {
    await fc.assert(
      fc.asyncProperty(rawCase(routes, secretsOf(target)), (c) => target.step("c-raw", () => runRawCase(target, c))),
      settings,
    );
  }, PROPERTY_TIMEOUT_MS);

  it("random AgentStream message sequences end with success or a proper error, never Unknown or Internal", async () => {
    await fc.assert(
      fc.asyncProperty(agentSequence(target.ids), credential, (seq, cred) => target.step("d-agent", () => runAgentCase(target, agents, seq, cred))),
      settings,
    );
  }, PROPERTY_TIMEOUT_MS);

  it("after all of it, the server logged no failure of its own (no error-level line)", () => {
    expect(target.errorLogs()).toEqual([]);
  });

  it("after all of it, the server still shuts down cleanly on SIGTERM", async () => {
    // Our connections go first: a stream the client left half-open would hold shutdown until SHUTDOWN_TIMEOUT.
    h2.close();
    agentSession.abort();
    await target.stop();
    expect(target.server.exitCode).toBe(0);
  });
});
