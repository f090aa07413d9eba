import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentService,
  AgentStreamRequestSchema,
  AgentStreamResponseSchema,
  type AgentStreamRequest,
  type AgentStreamResponse,
} from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { NodeStatus } from "../../gen/proto/capstan/v1/node_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { eventually } from "../support/agent-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { H2Client, grpcFrame, grpcStatus } from "../support/wire.js";

const JOIN = "join-token-paths-0123456789";
const ADMIN = "admin-token-paths-0123456789";
const PATH = "/capstan.v1.AgentService/AgentStream";

const hello = (name: string, joinToken = JOIN) => create(AgentStreamRequestSchema, { message: { case: "hello", value: { name, joinToken, address: "10.1.0.1", capabilities: { docker: { available: true, version: "27.0.0" } } } } });
const heartbeat = (cpuUsage: number) => create(AgentStreamRequestSchema, { message: { case: "heartbeat", value: { metrics: { cpuUsage, memUsage: 1 } } } });

/** An agent on a Connect client: its outbox, and what the server sends it, as a queue. */
function openAgent(transport: Transport, signal?: AbortSignal) {
  const outbox = new AsyncQueue<AgentStreamRequest>();
  const inbox = new AsyncQueue<AgentStreamResponse>();
  void (async () => {
    try {
      for await (const m of createClient(AgentService, transport).agentStream(outbox, { signal })) inbox.push(m);
      inbox.end();
    } catch (err) {
      inbox.end(err);
    }
  })();
  return { outbox, inbox };
}

type Reply = AgentStreamResponse["message"];

async function nextOf<K extends NonNullable<Reply["case"]>>(inbox: AsyncQueue<AgentStreamResponse>, kind: K): Promise<Extract<Reply, { case: K }>> {
  for (;;) {
    const r = await inbox.next();
    if (r.done) throw new Error(`stream ended before a ${kind}`);
    if (r.value.message.case === kind) return r.value.message as Extract<Reply, { case: K }>;
  }
}

describe("agent streams on the gRPC fast path and through connect-node", () => {
  let server: TestServer;
  const nodes = () => createClient(NodeService, server.withToken(ADMIN).grpc);
  const deployments = () => createClient(DeploymentService, server.withToken(ADMIN).grpc);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-paths-"));
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "0", CAPSTAN_JOIN_TOKEN: JOIN, CAPSTAN_ADMIN_TOKEN: ADMIN, MAX_MESSAGE_BYTES: "4096", MAX_STREAMS: "6",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  // Plain gRPC takes the fast path; a deadline, compression or the Connect protocol go to connect-node.
  const transports: [string, () => Transport][] = [
    ["gRPC (fast path)", () => createGrpcTransport({ baseUrl: server.url })],
    ["gRPC with a deadline (connect-node)", () => createGrpcTransport({ baseUrl: server.url, defaultTimeoutMs: 60_000 })],
    ["gRPC with gzip (connect-node)", () => createGrpcTransport({ baseUrl: server.url, sendCompression: compressionGzip, compressMinBytes: 0 })],
    ["Connect over HTTP/2 (connect-node)", () => createConnectTransport({ baseUrl: server.url, httpVersion: "2" })],
  ];

  it.each(transports)("welcomes, keeps online and commands an agent over %s", async (label, transport) => {
    const name = `paths-${label.split(" ")[0].toLowerCase()}-${transports.findIndex(([l]) => l === label)}`;
    const controller = new AbortController();
    const { outbox, inbox } = openAgent(transport(), controller.signal);
    outbox.push(hello(name));
    const welcome = await nextOf(inbox, "welcome");
    expect(welcome.value.nodeToken).toMatch(/^cpn_/);
    outbox.push(heartbeat(42));
    const node = await eventually(async () => {
      const n = (await nodes().getNode({ nodeId: welcome.value.nodeId })).node;
      return n?.connected && n.metrics?.cpuUsage === 42 ? n : undefined;
    }, 5000, "heartbeat seen");
    expect(node.status).toBe(NodeStatus.ONLINE);
    const { jobId } = await deployments().createDeployment({ deploymentId: `d-${name}`, renderedCompose: "services:\n  a:\n    image: x\n", nodeId: welcome.value.nodeId });
    const command = await nextOf(inbox, "command");
    expect(command.value.jobId).toBe(jobId);
    outbox.push(create(AgentStreamRequestSchema, { message: { case: "commandUpdate", value: { jobId, status: JobStatus.COMPLETED, exitCode: 0, lines: [{ stream: "stdout", text: `up on ${label}` }] } } }));
    const job = await eventually(async () => {
      const j = (await deployments().getJob({ jobId })).job;
      return j?.status === JobStatus.COMPLETED ? j : undefined;
    }, 5000, "job completed");
    expect(job.logs).toContain(`up on ${label}`);
    controller.abort();
    await eventually(async () => ((await nodes().getNode({ nodeId: welcome.value.nodeId })).node?.connected === false ? true : undefined), 5000, "session gone");
  });

  it.each(transports)("refuses a wrong join token with Unauthenticated over %s", async (_label, transport) => {
    const { outbox, inbox } = openAgent(transport());
    outbox.push(hello("intruder", "wrong-join-token"));
    const err = await inbox.next().then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.Unauthenticated);
  });

  it("is served to a client of another gRPC implementation (grpc-js)", async () => {
    const client = new grpc.Client(server.url.replace("http://", ""), grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest(
      PATH,
      (m: AgentStreamRequest) => Buffer.from(toBinary(AgentStreamRequestSchema, m)),
      (b: Buffer) => fromBinary(AgentStreamResponseSchema, b),
    );
    const first = new Promise<AgentStreamResponse>((resolve, reject) => {
      call.once("data", resolve);
      call.once("error", reject);
    });
    call.write(hello("grpc-js-agent"));
    const welcome = await first;
    expect(welcome.message.case).toBe("welcome");
    const ended = new Promise<grpc.StatusObject>((resolve) => call.once("status", resolve));
    call.end();
    expect((await ended).code).toBe(grpc.status.OK);
    client.close();
  });

  it("refuses a grpc-js agent's wrong join token with Unauthenticated while its side is still open", async () => {
    const client = new grpc.Client(server.url.replace("http://", ""), grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest(
      PATH,
      (m: AgentStreamRequest) => Buffer.from(toBinary(AgentStreamRequestSchema, m)),
      (b: Buffer) => fromBinary(AgentStreamResponseSchema, b),
    );
    const ended = new Promise<grpc.StatusObject>((resolve) => call.once("status", resolve));
    call.on("error", () => {});
    call.write(hello("grpc-js-intruder", "wrong-join-token"));
    // No call.end(): the answer must end the stream by itself (one HEADERS frame with END_STREAM).
    expect((await ended).code).toBe(grpc.status.UNAUTHENTICATED);
    call.cancel();
    client.close();
    const raw = new H2Client(server.url);
    const outcome = await raw.request(PATH, { "content-type": "application/grpc", te: "trailers" }, grpcFrame(toBinary(AgentStreamRequestSchema, hello("raw-intruder", "wrong-join-token"))), { timeoutMs: 5000, streaming: false });
    raw.close();
    expect(outcome.kind === "answer" && outcome.answer).toMatchObject({ headersEndStream: true, headers: { "grpc-status": String(Code.Unauthenticated) } });
  });

  it("answers unreadable, compressed, truncated and oversized frames with connect-node's codes", async () => {
    const raw = new H2Client(server.url);
    const send = (body: Uint8Array) => raw.request(PATH, { "content-type": "application/grpc", te: "trailers" }, body, { timeoutMs: 5000, streaming: false });
    const good = toBinary(AgentStreamRequestSchema, hello("raw-agent"));
    expect(grpcStatus(await send(grpcFrame(good, { compressed: true })))).toMatchObject({ code: Code.Internal, message: expect.stringMatching(/compressed/) });
    expect(grpcStatus(await send(grpcFrame(good, { declaredLength: good.length + 10 })))).toMatchObject({ code: Code.InvalidArgument });
    expect(grpcStatus(await send(grpcFrame(Uint8Array.from([0x0a, 0xff]))))).toMatchObject({ code: Code.Internal, message: expect.stringMatching(/^parse binary/) });
    expect(grpcStatus(await send(grpcFrame(new Uint8Array(8192))))).toMatchObject({ code: Code.ResourceExhausted });
    raw.close();
    expect(server.logs.filter((l) => l.includes('"level":50'))).toEqual([]);
  });

  it("reads a burst of messages larger than its buffer, all of them and in order", async () => {
    const raw = new H2Client(server.url);
    const frames = [grpcFrame(toBinary(AgentStreamRequestSchema, hello("burst-agent")))];
    for (let i = 1; i <= 300; i++) frames.push(grpcFrame(toBinary(AgentStreamRequestSchema, heartbeat(i / 4))));
    // One body, so the server receives the messages far faster than it handles them.
    const outcome = await raw.request(PATH, { "content-type": "application/grpc", te: "trailers" }, Buffer.concat(frames), { timeoutMs: 10_000, streaming: false });
    raw.close();
    expect(grpcStatus(outcome).code).toBe(0);
    const answer = outcome.kind === "answer" ? outcome.answer.body : Buffer.alloc(0);
    const welcome = fromBinary(AgentStreamResponseSchema, answer.subarray(5, 5 + answer.readUInt32BE(1)));
    expect(welcome.message.case).toBe("welcome");
    const nodeId = welcome.message.case === "welcome" ? welcome.message.value.nodeId : "";
    expect((await nodes().getNode({ nodeId })).node?.metrics?.cpuUsage).toBe(75);
  });

  it("bounds open streams with MAX_STREAMS, and frees a slot when a client goes away", async () => {
    const open = Array.from({ length: 6 }, (_, i) => ({ controller: new AbortController(), i }));
    const agents = open.map(({ controller, i }) => openAgent(createGrpcTransport({ baseUrl: server.url }), controller.signal).outbox.push(hello(`slot-${i}`)));
    expect(agents.every(Boolean)).toBe(true);
    await eventually(async () => ((await nodes().listNodes({})).nodes.filter((n) => n.name.startsWith("slot-") && n.connected).length === 6 ? true : undefined), 5000, "six connected");
    const seventh = openAgent(createGrpcTransport({ baseUrl: server.url }));
    seventh.outbox.push(hello("slot-6"));
    expect(await seventh.inbox.next().then(() => undefined, (e: unknown) => ConnectError.from(e).code)).toBe(Code.ResourceExhausted);
    open[0].controller.abort();
    const again = await eventually(async () => {
      const a = openAgent(createGrpcTransport({ baseUrl: server.url }));
      a.outbox.push(hello("slot-6"));
      return (await a.inbox.next().catch(() => undefined))?.value;
    }, 5000, "a slot freed");
    expect(again?.message.case).toBe("welcome");
    for (const { controller } of open) controller.abort();
  });
});

describe("agent streams on the fast path at shutdown", () => {
  it("end when the server shuts down, before it stops", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-paths-stop-"));
    const server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}` });
    const { outbox, inbox } = openAgent(createGrpcTransport({ baseUrl: server.url }));
    outbox.push(hello("stopping-agent"));
    await nextOf(inbox, "welcome");
    await server.stop();
    // Whatever was sent before (a chunk report request), then the end.
    const rest = await (async () => {
      try {
        for (;;) if ((await inbox.next()).done) return "ended";
      } catch {
        return "error";
      }
    })();
    expect(["ended", "error"]).toContain(rest);
  });
});
