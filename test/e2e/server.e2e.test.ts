import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { ServerReflection as ReflectionV1, ServerReflectionRequestSchema as V1Request } from "../../gen/proto/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha, ServerReflectionRequestSchema as V1alphaRequest } from "../../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/proto/health/v1/health_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const dir = mkdtempSync(join(tmpdir(), "capstan-server-"));

describe("the one-port server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "plain.db")}` });
  });
  afterAll(async () => server?.stop());

  it("answers reflection v1 and v1alpha: services, and the file defining a symbol with its dependencies", async () => {
    const v1 = createClient(ReflectionV1, server.grpc);
    const q = new AsyncQueue<ReturnType<typeof create<typeof V1Request>>>();
    q.push(create(V1Request, { messageRequest: { case: "listServices", value: "" } }));
    q.push(create(V1Request, { messageRequest: { case: "fileContainingSymbol", value: "capstan.v1.NodeService" } }));
    q.push(create(V1Request, { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } }));
    q.end();
    const answers = [];
    for await (const r of v1.serverReflectionInfo(q)) answers.push(r.messageResponse);
    expect(answers[0].case).toBe("listServicesResponse");
    expect((answers[0].value as { service: Array<{ name: string }> }).service.map((s) => s.name)).toContain("capstan.v1.NodeService");
    expect(answers[1].case).toBe("fileDescriptorResponse");
    expect((answers[1].value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.length).toBeGreaterThan(3);
    expect(answers[2]).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });

    const alpha = createClient(ReflectionV1alpha, server.grpc);
    const qa = new AsyncQueue<ReturnType<typeof create<typeof V1alphaRequest>>>();
    qa.push(create(V1alphaRequest, { messageRequest: { case: "listServices", value: "" } }));
    qa.end();
    for await (const r of alpha.serverReflectionInfo(qa)) expect(r.messageResponse.case).toBe("listServicesResponse");
  });

  it("streams health changes to a Watch until shutdown", async () => {
    const other = await startTestServer({ DATABASE_URL: `file:${join(dir, "watch.db")}` });
    const seen: Status[] = [];
    const watching = (async () => {
      for await (const r of createClient(Health, other.grpc).watch({ service: "" })) seen.push(r.status);
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await other.stop();
    await watching;
    expect(seen[0]).toBe(Status.SERVING);
    expect(seen).toContain(Status.NOT_SERVING);
  });
});

describe("TLS on the same port", () => {
  let server: TestServer;
  beforeAll(async () => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "tls.db")}`, TLS_CERT: join(dir, "cert.pem"), TLS_KEY: join(dir, "key.pem") });
  });
  afterAll(async () => server?.stop());

  it("serves gRPC over h2 and Connect over HTTP/1.1, negotiated by ALPN", async () => {
    expect(server.url).toMatch(/^https:/);
    const ca = execFileSync("cat", [join(dir, "cert.pem")]);
    const grpc = createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca } });
    const h1 = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { ca } });
    await createClient(NodeService, grpc).registerNode({ nodeId: "tls-node", name: "tls-node" });
    expect((await createClient(NodeService, h1).getNode({ nodeId: "tls-node" })).node?.name).toBe("tls-node");
  });
});
