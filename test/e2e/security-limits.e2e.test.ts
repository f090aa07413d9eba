import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { Health } from "../../gen/proto/health/v1/health_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { createOnePortServer, type OnePortServer } from "../../src/server/one-port-server.js";
import { eventually } from "../support/agent-process.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const codeOf = (err: unknown) => Code[ConnectError.from(err).code];

describe("limits", () => {
  let server: TestServer;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-limits-"));
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      RATE_LIMIT: "20",
      MAX_MESSAGE_BYTES: "4096",
      MAX_STREAMS_PER_CLIENT: "2",
    });
  });
  afterAll(() => server?.stop());
  const token = async (name: string) => (await createClient(TokenService, server.withToken(ADMIN).grpc).createToken({ name, scope: TokenScope.WRITE })).secret;

  it("limits calls per token: ResourceExhausted over gRPC, 429 with Retry-After over REST, other tokens unaffected", async () => {
    const busy = await token("busy");
    const nodes = createClient(NodeService, server.withToken(busy).grpc);
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => nodes.listNodes({}).then(() => "ok", codeOf)));
    expect(outcomes.filter((o) => o === "ok").length).toBe(20);
    expect(outcomes.filter((o) => o === "ResourceExhausted").length).toBe(20);
    const rest = await httpRequest(`${server.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${busy}` } });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(rest.json.code).toBe("resource_exhausted");
    const calm = await token("calm");
    await createClient(NodeService, server.withToken(calm).grpc).listNodes({});
  });

  it("refuses oversized messages: 413 on REST, ResourceExhausted on gRPC, and stores nothing", async () => {
    const big = "x".repeat(8192);
    const rest = await httpRequest(`${server.url}/api/v1/nodes/register`, { body: { name: "big", labels: { blob: big } }, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(rest.status).toBe(413);
    const grpc = await createClient(NodeService, server.withToken(ADMIN).grpc).registerNode({ name: "big", labels: { blob: big } }).catch(codeOf);
    expect(grpc).toBe("ResourceExhausted");
    expect((await createClient(NodeService, server.withToken(ADMIN).grpc).listNodes({})).nodes.some((n) => n.name === "big")).toBe(false);
  });

  it("bounds public streams (health Watch) per address too, though they need no token", async () => {
    const health = createClient(Health, server.grpc);
    const watch = () => {
      const abort = new AbortController();
      const seen = new Promise<string>((resolve) => {
        void (async () => {
          try {
            for await (const _ of health.watch({ service: "" }, { signal: abort.signal })) resolve("open");
            resolve("ended");
          } catch (err) {
            resolve(codeOf(err));
          }
        })();
      });
      return { seen, abort };
    };
    const a = watch();
    const b = watch();
    expect(await a.seen).toBe("open");
    expect(await b.seen).toBe("open");
    expect(await watch().seen).toBe("ResourceExhausted");
    a.abort.abort();
    const c = await eventually(async () => {
      const w = watch();
      if ((await w.seen) === "open") return w;
      w.abort.abort();
      return undefined;
    }, 10_000, "the aborted watch's slot freed");
    b.abort.abort();
    c.abort.abort();
  });

  it("bounds open streams per client", async () => {
    const admin = server.withToken(ADMIN).grpc;
    const { nodeId } = await createClient(NodeService, admin).registerNode({ name: "streams", capabilities: { docker: { available: true, version: "24.0.0" } } });
    const { jobId } = await createClient(DeploymentService, admin).createDeployment({ deploymentId: "streamed", renderedCompose: "services:\n  a:\n    image: busybox\n", nodeId });
    const watcher = await token("watcher");
    const client = createClient(DeploymentService, server.withToken(watcher).grpc);
    const open = () => {
      const abort = new AbortController();
      const first = new Promise<string>((resolve) => {
        void (async () => {
          try {
            for await (const _ of client.watchJob({ jobId }, { signal: abort.signal })) resolve("open");
          } catch (err) {
            resolve(codeOf(err));
          }
        })();
      });
      return { first, abort };
    };
    const a = open();
    const b = open();
    expect(await a.first).toBe("open");
    expect(await b.first).toBe("open");
    expect(await open().first).toBe("ResourceExhausted");
    a.abort.abort();
    const again = await eventually(async () => {
      const c = open();
      const result = await c.first;
      if (result !== "open") c.abort.abort();
      return result === "open" ? c : undefined;
    }, 10_000, "a slot freed by the aborted stream");
    again.abort.abort();
    b.abort.abort();
  });
});

describe("slow and stalled clients", () => {
  let server: OnePortServer;
  let port = 0;
  beforeAll(async () => {
    server = createOnePortServer({
      handler: (_req, res) => res.end("ok"),
      logger: pino({ level: "silent" }),
      timeouts: { headersMs: 300, requestMs: 600, idleMs: 300 },
    });
    port = await server.listen(0, "127.0.0.1");
  });
  afterAll(() => server?.close(100));

  const closed = (socket: net.Socket) => new Promise<string>((resolve) => socket.once("close", () => resolve("closed")));

  it("hangs up on a connection that never says anything", async () => {
    const socket = net.connect(port, "127.0.0.1");
    expect(await closed(socket)).toBe("closed");
  });

  it("hangs up on a client that never finishes its headers (slowloris)", async () => {
    const socket = net.connect(port, "127.0.0.1");
    socket.write("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    const timer = setInterval(() => socket.writable && socket.write("a"), 50);
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    expect(await closed(socket)).toBe("closed");
    clearInterval(timer);
    expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout/);
  });

  it("closes an HTTP/2 connection with no open stream once idle, after serving it", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const req = session.request({ ":path": "/" });
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    await new Promise((r) => req.on("end", r));
    expect(body).toBe("ok");
    await new Promise((resolve) => session.once("close", resolve));
    expect(session.closed || session.destroyed).toBe(true);
  });
});
