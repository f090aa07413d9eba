import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { eventually, startAgent } from "../support/agent-process.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const JOIN = "join-secret-0123456789abcdef";

describe("mutual TLS for agents (TLS_CLIENT_CA)", () => {
  let pki: TestPki;
  let server: TestServer;
  let url = "";
  const dir = mkdtempSync(join(tmpdir(), "capstan-mtls-"));

  beforeAll(async () => {
    pki = makeTestPki();
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      CAPSTAN_JOIN_TOKEN: JOIN,
      TLS_CERT: pki.serverCert,
      TLS_KEY: pki.serverKey,
      TLS_CLIENT_CA: pki.caCert,
    });
    url = `https://localhost:${server.app.port}`;
  });
  afterAll(() => server?.stop());

  /** Opens an agent stream with the given client certificate and says hello; resolves "welcome" or the error code. */
  async function hello(name: string, cert?: { cert: string; key: string }): Promise<string> {
    const transport = createGrpcTransport({
      baseUrl: url,
      nodeOptions: { ca: pki.read(pki.caCert), ...(cert ? { cert: pki.read(cert.cert), key: pki.read(cert.key) } : {}) },
    });
    const q = new AsyncQueue<AgentStreamRequest>();
    q.push(create(AgentStreamRequestSchema, { message: { case: "hello", value: { name, joinToken: JOIN } } }));
    try {
      for await (const m of createClient(AgentService, transport).agentStream(q)) {
        q.end();
        return m.message.case ?? "empty";
      }
      return "ended";
    } catch (err) {
      return Code[ConnectError.from(err).code];
    }
  }

  it("admits an agent whose certificate names its node", async () => {
    expect(await hello("edge-1", pki.client("edge-1"))).toBe("welcome");
  });

  it("refuses an agent whose certificate names another node", async () => {
    expect(await hello("edge-2", pki.client("edge-9"))).toBe("PermissionDenied");
  });

  it("refuses an agent without a certificate, or with one from another CA, even with the join token", async () => {
    expect(await hello("edge-3")).toBe("Unauthenticated");
    expect(await hello("edge-3", pki.client("edge-3", true))).toBe("Unauthenticated");
  });

  it("still serves operators with tokens and no certificate", async () => {
    const transport = createGrpcTransport({ baseUrl: url, nodeOptions: { ca: pki.read(pki.caCert) } });
    const nodes = await createClient(NodeService, transport).listNodes({}, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(nodes.nodes.some((n) => n.name === "edge-1")).toBe(true);
  });

  it("connects the real capstan-agent with --ca, --cert and --key", async () => {
    const cert = pki.client("agent-mtls");
    const agent = startAgent(["--server", url, "--join-token", JOIN, "--state-dir", join(dir, "agent"), "--workdir", dir, "--name", "agent-mtls", "--ca", pki.caCert, "--cert", cert.cert, "--key", cert.key]);
    try {
      const transport = createGrpcTransport({ baseUrl: url, nodeOptions: { ca: pki.read(pki.caCert) } });
      const list = () => createClient(NodeService, transport).listNodes({}, { headers: { authorization: `Bearer ${ADMIN}` } });
      await eventually(async () => (await list()).nodes.find((n) => n.name === "agent-mtls" && n.connected), 20_000, "agent connected over mutual TLS");
    } finally {
      await agent.stop();
    }
  });
});
