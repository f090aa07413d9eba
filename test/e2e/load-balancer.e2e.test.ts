import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import net from "node:net";
import tls from "node:tls";
import { Command, IPv4Address, IPv4ProxyAddress, TransportProtocol, V2ProxyProtocol } from "proxy-protocol-js";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { eventually } from "../support/agent-process.js";
import { makeTestPki } from "../support/certs.js";
import { startHaproxy, type HaproxyProcess } from "../support/haproxy.js";
import { httpRequest } from "../support/http.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

// HAProxy (deploy/haproxy.cfg) connects to Capstan from 127.0.0.1, the one trusted proxy here.
// Callers use other loopback addresses (127.0.0.2, .3) to be "other machines" on one host.
const TRUSTED = { TRUSTED_PROXIES: "127.0.0.1/32" };
const JOIN = "join-token-0123456789abcdef";

/** gRPC over h2c from a chosen source address. */
function grpcFrom(url: string, localAddress: string) {
  return createGrpcTransport({ baseUrl: url, nodeOptions: { localAddress } as object });
}

/** A PROXY v2 header naming `source` as the caller. */
function proxyHeader(source: [number, number, number, number]): Buffer {
  const address = new IPv4ProxyAddress(IPv4Address.createFrom(source), 40000, IPv4Address.createFrom([127, 0, 0, 1]), 8080);
  return Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, address).build());
}

/** Sends raw bytes to a port from a source address; resolves with what came back before the server closed. */
function raw(port: number, localAddress: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    const s = net.connect({ port, host: "127.0.0.1", localAddress }, () => s.write(bytes));
    s.on("data", (d) => {
      got.push(d);
      // An answer: enough to tell a served connection from a refused one.
      if (Buffer.concat(got).includes("\r\n\r\n")) s.destroy();
    });
    s.on("close", () => resolve(Buffer.concat(got).toString("latin1")));
    s.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? resolve(Buffer.concat(got).toString("latin1")) : reject(err)));
  });
}

const GET_HEALTH = Buffer.from("GET /health HTTP/1.1\r\nHost: capstan\r\nConnection: close\r\n\r\n");

describe("behind HAProxy: dev mode, the audit trail, gRPC and WebSockets see the real caller", () => {
  let server: ServerProcess;
  let lb: HaproxyProcess;
  beforeAll(async () => {
    server = await startServerProcess({ env: { ...TRUSTED, CAPSTAN_DEV: "1", CAPSTAN_JOIN_TOKEN: JOIN } });
    lb = await startHaproxy([`127.0.0.1:${server.port}`]);
  }, 60_000);
  afterAll(async () => {
    await lb?.stop();
    await server?.stop();
  });

  it("admits a loopback caller as dev through the proxy, and sees another loopback address as itself", async () => {
    expect((await httpRequest(`${lb.url}/api/v1/whoami`)).json).toMatchObject({ kind: "dev", name: "127.0.0.1" });
    expect((await httpRequest(`${lb.url}/api/v1/whoami`, { localAddress: "127.0.0.2" })).json).toMatchObject({ kind: "dev", name: "127.0.0.2" });
  });

  it("serves gRPC (h2c) through the proxy with the caller's address", async () => {
    const me = await createClient(TokenService, grpcFrom(lb.url, "127.0.0.3")).whoAmI({});
    expect(me).toMatchObject({ kind: "dev", name: "127.0.0.3" });
  });

  it("does not admit as dev a caller the proxy says is not on loopback", async () => {
    const answer = await raw(server.port, "127.0.0.1", Buffer.concat([proxyHeader([203, 0, 113, 9]), Buffer.from("GET /api/v1/whoami HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n")]));
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
  });

  it("records the real caller's address in the audit trail", async () => {
    const made = await httpRequest(`${lb.url}/api/v1/tokens`, { body: { name: "from-far", scope: "TOKEN_SCOPE_READ" }, localAddress: "127.0.0.2" });
    expect(made.status).toBe(201);
    const audit = await httpRequest(`${lb.url}/api/v1/audit`);
    const event = audit.json.events.find((e: { rpc: string }) => e.rpc.endsWith("CreateToken"));
    expect(event).toMatchObject({ peer: "127.0.0.2" });
  });

  it("carries WebSocket agents on /ws, registered with their own address", async () => {
    const ws = new WebSocket(`${lb.url.replace("http", "ws")}/ws`, {
      localAddress: "127.0.0.2",
      headers: { authorization: `Bearer ${JOIN}`, "x-agent-hostname": "lb-agent", "x-agent-architecture": "linux-amd64" },
    });
    await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
    try {
      const node = await eventually(async () => (await httpRequest(`${lb.url}/api/v1/nodes`)).json.nodes?.find((n: { name?: string }) => n.name === "lb-agent"), 10_000, "agent registered");
      expect(JSON.stringify(node)).toContain("127.0.0.2");
      expect(JSON.stringify(node)).not.toContain('"127.0.0.1"');
    } finally {
      ws.close();
    }
  });

  it("refuses a trusted proxy's connection that has no PROXY header", async () => {
    expect(await raw(server.port, "127.0.0.1", GET_HEALTH)).toBe("");
  });

  it("refuses a PROXY header from a peer that is not a trusted proxy, and serves that peer without one", async () => {
    expect(await raw(server.port, "127.0.0.2", Buffer.concat([proxyHeader([127, 0, 0, 1]), GET_HEALTH]))).toBe("");
    expect(await raw(server.port, "127.0.0.2", GET_HEALTH)).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe("behind HAProxy: anonymous networks and per-address rate limits count the real caller", () => {
  let server: ServerProcess;
  let lb: HaproxyProcess;
  beforeAll(async () => {
    server = await startServerProcess({
      env: { ...TRUSTED, CAPSTAN_ANONYMOUS_SCOPES: "read", CAPSTAN_ANONYMOUS_NETWORKS: "127.0.0.2/32,127.0.0.3/32", RATE_LIMIT: "3" },
    });
    lb = await startHaproxy([`127.0.0.1:${server.port}`]);
  }, 60_000);
  afterAll(async () => {
    await lb?.stop();
    await server?.stop();
  });

  it("admits token-less callers from the allowed network only, over REST and the gRPC fast path", async () => {
    expect((await httpRequest(`${lb.url}/api/v1/nodes`, { localAddress: "127.0.0.2" })).status).toBe(200);
    expect((await httpRequest(`${lb.url}/api/v1/nodes`)).status).toBe(401);
    const allowed = await createClient(ChunkIndexService, grpcFrom(lb.url, "127.0.0.2")).getChunkLocations({ chunkIds: ["c-1"] });
    expect(allowed.locations).toHaveLength(1);
    const refused = await createClient(ChunkIndexService, grpcFrom(lb.url, "127.0.0.4"))
      .getChunkLocations({ chunkIds: ["c-1"] })
      .then(() => undefined, (err: unknown) => ConnectError.from(err).code);
    expect(refused).toBe(Code.Unauthenticated);
  });

  it("limits each caller by its own address, not the proxy's", async () => {
    let status = 0;
    for (let i = 0; i < 50 && status !== 429; i++) status = (await httpRequest(`${lb.url}/api/v1/nodes`, { localAddress: "127.0.0.3" })).status;
    expect(status).toBe(429);
    // Through the same proxy, another caller has its own budget.
    expect((await httpRequest(`${lb.url}/api/v1/nodes`, { localAddress: "127.0.0.2" })).status).toBe(200);
  });
});

describe("a trusted proxy in front of TLS: the PROXY header comes before the handshake", () => {
  let server: ServerProcess;
  let ca: Buffer;
  beforeAll(async () => {
    const pki = makeTestPki();
    ca = pki.read(pki.caCert);
    server = await startServerProcess({ env: { ...TRUSTED, CAPSTAN_DEV: "1", TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey } });
  }, 60_000);
  afterAll(() => server?.stop());

  it("serves HTTPS after the header, as the caller it names", async () => {
    const socket = net.connect({ port: server.port, host: "127.0.0.1", localAddress: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => socket.once("connect", () => resolve()).once("error", reject));
    socket.write(proxyHeader([127, 0, 0, 5]));
    const secure = tls.connect({ socket, servername: "localhost", ca });
    const answer = await new Promise<string>((resolve, reject) => {
      const got: Buffer[] = [];
      secure.once("secureConnect", () => secure.write("GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
      secure.on("data", (d) => got.push(d));
      secure.once("end", () => resolve(Buffer.concat(got).toString()));
      secure.once("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"name":"127.0.0.5"');
  });

  it("refuses a trusted proxy's TLS handshake without a PROXY header", async () => {
    const refused = await new Promise<string>((resolve) => {
      const secure = tls.connect({ port: server.port, host: "127.0.0.1", servername: "localhost", ca });
      secure.once("secureConnect", () => resolve("handshake completed"));
      secure.once("error", (err) => resolve(`error: ${err.message}`));
      secure.once("close", () => resolve("closed"));
    });
    expect(refused).not.toBe("handshake completed");
  });
});

describe("behind HAProxy with two replicas: each sees the real caller", () => {
  const servers: ServerProcess[] = [];
  let lb: HaproxyProcess;
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) servers.push(await startServerProcess({ env: { ...TRUSTED, CAPSTAN_DEV: "1" } }));
    lb = await startHaproxy(servers.map((s) => `127.0.0.1:${s.port}`));
  }, 90_000);
  afterAll(async () => {
    await lb?.stop();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("spreads new connections over both, and both record the caller's address", async () => {
    for (let i = 0; i < 4; i++) {
      const made = await httpRequest(`${lb.url}/api/v1/tokens`, { body: { name: `spread-${i}`, scope: "TOKEN_SCOPE_READ" }, localAddress: "127.0.0.2" });
      expect(made.status).toBe(201);
    }
    // Each replica's own trail, asked directly from an address that is not a proxy (dev mode, loopback).
    for (const server of servers) {
      const audit = await httpRequest(`${server.url}/api/v1/audit`, { localAddress: "127.0.0.3" });
      const peers = audit.json.events.filter((e: { rpc: string }) => e.rpc.endsWith("CreateToken")).map((e: { peer: string }) => e.peer);
      expect(peers.length).toBeGreaterThan(0);
      expect(new Set(peers)).toEqual(new Set(["127.0.0.2"]));
    }
  });
});
