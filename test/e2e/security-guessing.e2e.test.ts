import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";
const JOIN = "join-secret-0123456789abcdef";
const LIMIT = 20;

/** Opens an InstaDeploy-style /ws connection from `localAddress`; resolves the close code or the refused handshake's status and Retry-After. */
function wsJoin(url: string, token: string, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}`, "x-agent-hostname": "guesser" }, localAddress });
    ws.once("unexpected-response", (_req, res) => {
      resolve(`http ${res.statusCode} retry-after ${res.headers["retry-after"] ?? "-"}`);
      ws.terminate();
    });
    ws.once("close", (code) => resolve(`closed ${code}`));
    ws.once("error", () => resolve("error"));
  });
}

describe("guessing tokens is throttled per address, and recorded in a bounded way", () => {
  let server: TestServer;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-guess-"));
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "0", CAPSTAN_ADMIN_TOKEN: ADMIN, CAPSTAN_JOIN_TOKEN: JOIN, AUTH_FAILURE_LIMIT: String(LIMIT),
    });
  });
  afterAll(() => server?.stop());

  const auditFrom = async (peer: string) =>
    ((await httpRequest(`${server.url}/api/v1/audit?page_size=1000`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.events as Array<{ peer: string; rpc: string; outcome: string }>).filter(
      (e) => e.peer === peer || e.peer === `::ffff:${peer}`,
    );

  it("answers 429 with Retry-After once an address has failed too often, whatever it sends, and audits only the first failure", async () => {
    const guesser = "127.0.0.2";
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 300; i++) {
      const write = i % 2 === 0;
      const answer = await httpRequest(`${server.url}/api/v1/${write ? "tokens" : "nodes"}`, {
        body: write ? { name: `t${i}`, scope: "admin" } : undefined,
        headers: { authorization: `Bearer cap_guess-${i}` },
        localAddress: guesser,
      });
      statuses.push(answer.status);
      if (answer.status === 429) retryAfter ??= answer.headers["retry-after"];
    }
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT + 2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(300 - LIMIT - 2);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // Refused before the caller is resolved: the right token from that address waits too, over gRPC as well.
    expect((await httpRequest(`${server.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${ADMIN}` }, localAddress: guesser })).status).toBe(429);
    // Other addresses are not affected.
    expect((await httpRequest(`${server.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    // 300 failed writes and reads, one audit event (the first failure, in full); the rest are summed when the minute ends.
    const events = await auditFrom(guesser);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: "unauthenticated" });
    expect(server.logs.filter((l) => l.includes('"authentication failed"') && l.includes(guesser))).toHaveLength(1);
  });

  it("refuses gRPC calls from a throttled address with ResourceExhausted", async () => {
    const { createGrpcTransport } = await import("@connectrpc/connect-node");
    // http2.connect passes net.connect options (localAddress) through; its types do not list them.
    const nodeOptions = { localAddress: "127.0.0.4" } as Parameters<typeof createGrpcTransport>[0]["nodeOptions"];
    const transport = createGrpcTransport({ baseUrl: server.url, nodeOptions });
    const codes: string[] = [];
    for (let i = 0; i < LIMIT + 5; i++) {
      codes.push(
        await createClient(NodeService, transport)
          .listNodes({}, { headers: { authorization: `Bearer cap_grpc-guess-${i}` } })
          .then(() => "ok", (err: unknown) => Code[ConnectError.from(err).code]),
      );
    }
    expect(codes.slice(0, LIMIT)).toEqual(Array(LIMIT).fill("Unauthenticated"));
    expect(codes.at(-1)).toBe("ResourceExhausted");
  });

  it("records failed /ws joins, and refuses the handshake with 429 once the address failed too often", async () => {
    const url = `${server.url.replace("http", "ws")}/ws`;
    const joiner = "127.0.0.3";
    expect(await wsJoin(url, "wrong-join-token-0123456789", joiner)).toBe("closed 1008");
    const joins = await auditFrom(joiner);
    expect(joins).toHaveLength(1);
    expect(joins[0]).toMatchObject({ rpc: "/ws (ws-instadeploy)", outcome: "unauthenticated" });
    expect(server.logs.some((l) => l.includes('"authentication failed"') && l.includes("/ws (ws-instadeploy)"))).toBe(true);
    for (let i = 0; i < LIMIT; i++) await wsJoin(url, `wrong-join-token-${i}-0123456789`, joiner);
    expect(await wsJoin(url, JOIN, joiner)).toMatch(/^http 429 retry-after [1-9]/);
    expect(await auditFrom(joiner)).toHaveLength(1);
  });
});
