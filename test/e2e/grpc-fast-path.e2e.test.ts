import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkIndexService, GetChunkLocationsRequestSchema, GetChunkLocationsResponseSchema } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { H2Client, grpcFrame, grpcStatus } from "../support/wire.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const PATH = "/capstan.v1.ChunkIndexService/GetChunkLocations";

describe("gRPC fast path for chunk location lookups", () => {
  let server: TestServer;
  let raw: H2Client;
  let nodeToken = "";
  const request = create(GetChunkLocationsRequestSchema, { chunkIds: ["c-1", "c-2", "nope"] });
  const call = (body: Uint8Array, headers: Record<string, string> = {}) =>
    raw.request(PATH, { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${nodeToken}`, ...headers }, body, { timeoutMs: 5000, streaming: false });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-fast-"));
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, RATE_LIMIT: "50", MAX_MESSAGE_BYTES: "4096" });
    const nodes = createClient(NodeService, server.withToken(ADMIN).grpc);
    const chunks = createClient(ChunkIndexService, server.withToken(ADMIN).grpc);
    for (const [id, held] of [["n1", ["c-1", "c-2"]], ["n2", ["c-1"]]] as const) {
      const r = await nodes.registerNode({ nodeId: id, name: id, address: `10.0.0.${id.slice(1)}`, labels: { zone: id } });
      nodeToken ||= r.nodeToken;
      await chunks.reportChunks({ nodeId: id, chunkIds: [...held] });
    }
    raw = new H2Client(server.url);
  });
  afterAll(async () => {
    raw?.close();
    await server?.stop();
  });

  it("answers byte for byte what connect-node answers for the same request", async () => {
    // Plain application/grpc with no grpc-timeout: the fast path.
    const plain = await call(grpcFrame(toBinary(GetChunkLocationsRequestSchema, request)));
    expect(grpcStatus(plain).code).toBe(0);
    const viaFast = plain.kind === "answer" ? plain.answer.body.subarray(5).toString("hex") : "";
    // A deadline sends a gRPC call to connect-node; so does the Connect protocol.
    const viaConnectGrpc = await createClient(ChunkIndexService, server.withToken(nodeToken).grpc).getChunkLocations(request, { timeoutMs: 10_000 });
    const viaConnectJson = await createClient(ChunkIndexService, server.withToken(nodeToken).connect).getChunkLocations(request);
    const bytes = (m: typeof viaConnectGrpc) => Buffer.from(toBinary(GetChunkLocationsResponseSchema, m)).toString("hex");
    expect(viaFast).toBe(bytes(viaConnectGrpc));
    expect(viaFast).toBe(bytes(viaConnectJson));
    expect(viaConnectGrpc.locations.map((l) => [l.chunkId, l.peerIds.length])).toEqual([["c-1", 2], ["c-2", 1], ["nope", 0]]);
    // The generated gRPC client (no deadline) takes the fast path too, and reads the answer.
    expect((await createClient(ChunkIndexService, server.withToken(nodeToken).grpc).getChunkLocations(request)).locations).toHaveLength(3);
  });

  it("checks the caller like every other path: no token or a bad token is Unauthenticated", async () => {
    const frame = grpcFrame(toBinary(GetChunkLocationsRequestSchema, request));
    expect(grpcStatus(await call(frame, { authorization: "" }))).toMatchObject({ code: Code.Unauthenticated });
    expect(grpcStatus(await call(frame, { authorization: "Bearer cap_wrong" }))).toMatchObject({ code: Code.Unauthenticated });
    const viaClient = await createClient(ChunkIndexService, server.grpc).getChunkLocations(request).catch((e: unknown) => ConnectError.from(e));
    expect(viaClient).toMatchObject({ code: Code.Unauthenticated });
  });

  it("answers an error trailers-only, in one HEADERS frame with END_STREAM, which grpc-js reads", async () => {
    const frame = grpcFrame(toBinary(GetChunkLocationsRequestSchema, request));
    const refused = await call(frame, { authorization: "" });
    expect(refused.kind === "answer" && refused.answer).toMatchObject({ headersEndStream: true, body: Buffer.alloc(0), trailers: {} });
    // Clients other than connect-es read the status only from a frame that ends the stream.
    const client = new grpc.Client(server.url.replace("http://", ""), grpc.credentials.createInsecure());
    const status = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(PATH, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(toBinary(GetChunkLocationsRequestSchema, request)), (err) => resolve(err)),
    );
    client.close();
    expect(status).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it("answers unreadable, compressed, truncated and oversized frames with the codes connect-node uses", async () => {
    const good = toBinary(GetChunkLocationsRequestSchema, request);
    expect(grpcStatus(await call(grpcFrame(good, { compressed: true }))).code).toBe(Code.Internal);
    expect(grpcStatus(await call(grpcFrame(good, { declaredLength: good.length + 10 }))).code).toBe(Code.InvalidArgument);
    expect(grpcStatus(await call(grpcFrame(Uint8Array.from([0x0a, 0xff]))))).toMatchObject({ code: Code.Internal, message: expect.stringMatching(/^parse binary/) });
    expect(grpcStatus(await call(grpcFrame(new Uint8Array(8192))))).toMatchObject({ code: Code.ResourceExhausted });
  });

  it("counts calls against the caller's rate limit, with a retry-after", async () => {
    const frame = grpcFrame(toBinary(GetChunkLocationsRequestSchema, request));
    const outcomes = await Promise.all(Array.from({ length: 80 }, () => call(frame)));
    const codes = outcomes.map((o) => grpcStatus(o).code);
    expect(codes.filter((c) => c === Code.ResourceExhausted).length).toBeGreaterThan(0);
    const limited = outcomes.find((o) => grpcStatus(o).code === Code.ResourceExhausted);
    expect(limited?.kind === "answer" && Number(limited.answer.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  });
});
