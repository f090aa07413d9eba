import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService, AgentStreamRequestSchema, type AgentHelloSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { eventually } from "../support/agent-process.js";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const JOIN = "join-secret-0123456789abcdef";

/** Says hello on an AgentStream; resolves the welcome's node id and token, or the error code. */
async function hello(transport: Transport, value: MessageInitShape<typeof AgentHelloSchema>): Promise<{ nodeId: string; token: string } | string> {
  const q = new AsyncQueue<AgentStreamRequest>();
  q.push(create(AgentStreamRequestSchema, { message: { case: "hello", value } }));
  try {
    for await (const m of createClient(AgentService, transport).agentStream(q)) {
      q.end();
      return m.message.case === "welcome" ? { nodeId: m.message.value.nodeId, token: m.message.value.nodeToken } : (m.message.case ?? "empty");
    }
    return "ended";
  } catch (err) {
    return Code[ConnectError.from(err).code];
  }
}

/** Opens a /ws connection, sends `first` (if any) and resolves the close code, or "open" if it is still open after a while. */
function wsOutcome(url: string, headers: Record<string, string>, first?: unknown): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => first !== undefined && ws.send(JSON.stringify(first)));
    ws.once("close", (code) => resolve(String(code)));
    ws.once("error", () => resolve("error"));
    setTimeout(() => {
      resolve("open");
      ws.close();
    }, 1500);
  });
}

describe("mutual TLS cannot be bypassed by renaming a node (TLS_CLIENT_CA)", () => {
  let pki: TestPki;
  let server: TestServer;
  let url = "";

  beforeAll(async () => {
    pki = makeTestPki();
    server = await startTestServer({
      DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-rename-")), "c.db")}`,
      CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, CAPSTAN_JOIN_TOKEN: JOIN,
      TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey, TLS_CLIENT_CA: pki.caCert,
    });
    url = `https://localhost:${server.app.port}`;
  });
  afterAll(() => server?.stop());

  const issued = new Map<string, { cert: string; key: string }>();
  const agentTransport = (name: string) => {
    const pair = issued.get(name) ?? pki.client(name);
    issued.set(name, pair);
    return createGrpcTransport({ baseUrl: url, nodeOptions: { ca: pki.read(pki.caCert), cert: pki.read(pair.cert), key: pki.read(pair.key) } });
  };

  /** REST over TLS without a client certificate, as the probe called it. */
  function restRegister(token: string, body: unknown): Promise<{ status: number; json: any }> {
    return new Promise((resolve, reject) => {
      const req = https.request(`${url}/api/v1/nodes/register`, {
        method: "POST", ca: pki.read(pki.caCert), agent: false,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) }));
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }

  it("refuses the rename by a call without the node's certificate, so another node's certificate still cannot open its stream", async () => {
    const y = await hello(agentTransport("node-y"), { nodeId: "node-y", name: "node-y", joinToken: JOIN });
    if (typeof y === "string") throw new Error(`node-y was not admitted: ${y}`);
    // The attack: node-y's stolen token renames node-y to node-x over REST, where no certificate is checked...
    const rename = await restRegister(y.token, { node_id: "node-y", name: "node-x" });
    expect(rename.status).toBe(403);
    expect(rename.json.message).toContain("mutual TLS");
    // ...so node-x's certificate is still refused for node-y's stream.
    expect(await hello(agentTransport("node-x"), { nodeId: "node-y", name: "node-x", nodeToken: y.token })).toBe("PermissionDenied");
    // The node's own certificate still reconnects it, and a re-registration that keeps its name still works.
    expect(typeof (await hello(agentTransport("node-y"), { nodeId: "node-y", name: "node-y", nodeToken: y.token }))).toBe("object");
    expect((await restRegister(ADMIN, { node_id: "node-y", name: "node-y", address: "10.0.0.9" })).status).toBe(201);
  });

  it("renames a node when the call's certificate names the node and the new name", async () => {
    const both = pki.client("node-z", false, ["node-z2"]);
    const transport = createGrpcTransport({ baseUrl: url, nodeOptions: { ca: pki.read(pki.caCert), cert: pki.read(both.cert), key: pki.read(both.key) } });
    const z = await hello(transport, { nodeId: "node-z", name: "node-z", joinToken: JOIN });
    if (typeof z === "string") throw new Error(`node-z was not admitted: ${z}`);
    expect(typeof (await hello(transport, { nodeId: "node-z", name: "node-z2", nodeToken: z.token }))).toBe("object");
  });
});

describe("/ws without a join token does not take over nodes that hold a token (open registration)", () => {
  let server: TestServer;
  let wsUrl = "";

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-wsopen-")), "c.db")}`, CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN });
    wsUrl = `${server.url.replace("http", "ws")}/ws`;
  });
  afterAll(() => server?.stop());

  const admin = { authorization: `Bearer ${ADMIN}` };
  const heartbeat = (id: string, token: string) => httpRequest(`${server.url}/api/v1/nodes/${id}/heartbeat`, { body: { cpu_usage: 1 }, headers: { authorization: `Bearer ${token}` } });

  it("refuses an Orion hello naming a node that holds a token; the node keeps its token", async () => {
    const b = await hello(server.grpc, { nodeId: "node-b", name: "node-b" });
    if (typeof b === "string") throw new Error(`node-b was not admitted: ${b}`);
    expect(await wsOutcome(wsUrl, {}, { type: "hello", payload: { nodeId: "node-b" } })).toBe("1008");
    expect((await heartbeat("node-b", b.token)).status).toBe(200);
  });

  it("gives an InstaDeploy agent naming a token node's hostname its own node, never that one", async () => {
    const registered = await httpRequest(`${server.url}/api/v1/nodes/register`, { body: { node_id: "node-c", name: "node-c" } });
    expect(registered.status).toBe(201);
    expect(await wsOutcome(wsUrl, { "x-agent-hostname": "node-c", "x-agent-version": "1.0.0" })).toBe("open");
    expect((await heartbeat("node-c", registered.json.node_token)).status).toBe(200);
    const listed = (await httpRequest(`${server.url}/agents`, { headers: admin })).json.agents.filter((a: any) => a.hostname === "node-c");
    expect(listed.map((a: any) => a.id).sort()).toEqual(["node-c", expect.any(String)].sort());
  });

  it("still lets /ws agents come back to the nodes they registered themselves", async () => {
    expect(await wsOutcome(wsUrl, {}, { type: "hello", payload: { nodeId: "orion-1", name: "orion-1" } })).toBe("open");
    expect(await wsOutcome(wsUrl, {}, { type: "hello", payload: { nodeId: "orion-1", name: "orion-1" } })).toBe("open");
    expect(await wsOutcome(wsUrl, { "x-agent-hostname": "builder-1" })).toBe("open");
    expect(await wsOutcome(wsUrl, { "x-agent-hostname": "builder-1" })).toBe("open");
    const builders = (await httpRequest(`${server.url}/agents`, { headers: admin })).json.agents.filter((a: any) => a.hostname === "builder-1");
    expect(builders).toHaveLength(1);
  });
});

describe("names cannot be squatted (anonymous node scope: token-less callers may register)", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-names-")), "c.db")}`,
      CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, CAPSTAN_JOIN_TOKEN: JOIN, CAPSTAN_ANONYMOUS_SCOPES: "node",
    });
  });
  afterAll(() => server?.stop());

  const register = (body: unknown, token?: string) =>
    httpRequest(`${server.url}/api/v1/nodes/register`, { body, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("refuses a token-less registration under a name a node of the same kind holds, saying what to do", async () => {
    expect((await register({ node_id: "node-b", name: "node-b" }, JOIN)).status).toBe(201);
    const squat = await register({ node_id: "evil-1", name: "node-b" });
    expect(squat.status).toBe(409);
    expect(squat.json.code).toBe("already_exists");
    expect(squat.json.message).toMatch(/register as that node .*another name/);
    // Registrations by name keep landing on the node that holds it.
    const again = await register({ name: "node-b" }, JOIN);
    expect(again.json.node_id).toBe("node-b");
  });

  it("refuses renaming a node onto a name another node of its kind holds", async () => {
    expect((await register({ node_id: "evil-2", name: "evil-2" })).status).toBe(201);
    expect((await register({ node_id: "evil-2", name: "node-b" })).status).toBe(409);
  });

  it("keeps an InstaDeploy agent's hostname off a squatter that registered it over REST", async () => {
    expect((await register({ node_id: "evil-3", name: "web-1" })).status).toBe(201);
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws`, { headers: { authorization: `Bearer ${JOIN}`, "x-agent-hostname": "web-1" } });
    await new Promise((resolve) => ws.once("open", resolve));
    const agents = await eventually(
      async () => (await httpRequest(`${server.url}/agents`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.agents.filter((a: any) => a.hostname === "web-1" && a.status === "online" && a.id !== "evil-3"),
      5000,
      "the agent's own node",
    );
    expect(agents).toHaveLength(1);
    ws.close();
  });

  it("registers MIaaS's agent by hostname next to another system's agent that holds that name with a token (issue 12)", async () => {
    const capstan = await hello(server.grpc, { name: "gpu-host-1", joinToken: JOIN });
    if (typeof capstan === "string") throw new Error(`capstan-agent was not admitted: ${capstan}`);
    const miaas = await register({ name: "gpu-host-1", ip: "10.0.0.7", capabilities: { os: "linux", cpu_count: 8, mem_mb: 32000, gpus: [] } });
    expect(miaas.status).toBe(201);
    expect(miaas.json.node_id).not.toBe(capstan.nodeId);
    // Its restart registers the same node again, and the capstan-agent's node keeps its token.
    expect((await register({ name: "gpu-host-1", ip: "10.0.0.7" })).json.node_id).toBe(miaas.json.node_id);
    expect(typeof (await hello(server.grpc, { nodeId: capstan.nodeId, nodeToken: capstan.token, name: "gpu-host-1" }))).toBe("object");
  });
});
