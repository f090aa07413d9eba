import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-secret-0123456789abcdef";

/** The probe's request: a page's text/plain POST (no CORS preflight), from another site, through a rebound name. */
const tokenCall = (server: TestServer, headers: Record<string, string>) =>
  httpRequest(`${server.url}/api/v1/tokens`, { body: JSON.stringify({ name: "x", scope: "admin" }), headers });

/** Whether the WebSocket handshake is refused (and how) or accepted. */
function upgrade(server: TestServer, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws`, { headers });
    ws.once("unexpected-response", (_req, res) => {
      resolve(`refused ${res.statusCode}`);
      ws.terminate();
    });
    ws.once("open", () => {
      resolve("open");
      ws.close();
    });
    ws.once("error", () => resolve("error"));
  });
}

describe("cross-site requests and DNS rebinding (dev mode: the loopback caller may do anything)", () => {
  let server: TestServer;
  let port = "";

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-xsite-"));
    server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, CAPSTAN_DEV: "1", CAPSTAN_ADMIN_TOKEN: ADMIN, CORS_ORIGINS: "https://dash.example" });
    port = new URL(server.url).port;
  });
  afterAll(() => server?.stop());

  const tokenNames = async () =>
    ((await httpRequest(`${server.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.tokens as Array<{ name: string }>).map((t) => t.name);

  it("refuses the probe's request (another origin, a rebound Host, a text/plain body) and creates no token", async () => {
    const answer = await tokenCall(server, { origin: "https://evil.example", host: `rebind.evil.example:${port}`, "content-type": "text/plain;charset=UTF-8" });
    expect(answer.status).toBe(403);
    expect(answer.json.message).toContain("ALLOWED_HOSTS");
    expect(await tokenNames()).not.toContain("x");
  });

  it("refuses a Host the server does not answer to, whatever the body, and says which setting allows it", async () => {
    const answer = await httpRequest(`${server.url}/api/v1/nodes`, { headers: { host: `rebind.evil.example:${port}` } });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ code: "permission_denied" });
    expect(answer.json.message).toContain('"rebind.evil.example');
  });

  it("answers a foreign Host when the call carries a credential header (a rebinding page has no valid token; a bad one is 401)", async () => {
    const host = `cp.example.com:${port}`;
    expect((await httpRequest(`${server.url}/api/v1/nodes`, { headers: { host, authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await tokenCall(server, { host, authorization: "Bearer cap_guessed", "content-type": "application/json" })).status).toBe(401);
    expect(await tokenNames()).not.toContain("x");
  });

  it.each([
    ["the loopback address", "127.0.0.1"],
    ["localhost", "localhost"],
    ["an IPv6 literal", "[::1]"],
    ["a single-label name (a compose service)", "capstan"],
    ["a local-only name", "cp.cluster.local"],
  ])("answers requests addressed to %s", async (_what, name) => {
    const answer = await httpRequest(`${server.url}/api/v1/nodes`, { headers: { host: `${name}:${port}` } });
    expect(answer.status).toBe(200);
  });

  it("refuses a call from a page of another origin, preflight included, unless CORS_ORIGINS lists it", async () => {
    const evil = await tokenCall(server, { origin: "https://evil.example", "content-type": "application/json" });
    expect(evil.status).toBe(403);
    expect(evil.json.message).toContain("CORS_ORIGINS");
    const preflight = await httpRequest(`${server.url}/api/v1/tokens`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    const sandboxed = await tokenCall(server, { origin: "null", "content-type": "application/json" });
    expect(sandboxed.status).toBe(403);
    const listed = await httpRequest(`${server.url}/api/v1/nodes`, { headers: { origin: "https://dash.example" } });
    expect(listed.status).toBe(200);
    expect(listed.headers["access-control-allow-origin"]).toBe("https://dash.example");
    expect(await tokenNames()).not.toContain("x");
  });

  it("answers same-origin page calls (the server's own docs pages)", async () => {
    const answer = await httpRequest(`${server.url}/api/v1/nodes`, { headers: { origin: server.url, host: `127.0.0.1:${port}` } });
    expect(answer.status).toBe(200);
  });

  it("reads JSON bodies only when sent as JSON or with no type at all", async () => {
    for (const type of ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const answer = await tokenCall(server, { "content-type": type });
      expect(answer.status, type).toBe(415);
      expect(answer.json.message).toContain("Content-Type: application/json");
    }
    expect(await tokenNames()).not.toContain("x");
    const typed = await httpRequest(`${server.url}/api/v1/tokens`, { body: { name: "typed", scope: "read" }, headers: { "content-type": "application/json; charset=utf-8" } });
    expect(typed.status).toBe(201);
    // Clients that set no content type at all (no browser sends a body cross-site without an Origin).
    const untyped = await httpRequest(`${server.url}/api/v1/nodes/register`, { body: JSON.stringify({ node_id: "untyped-1" }), headers: { "content-type": "" } });
    expect(untyped.status).toBe(201);
  });

  it("refuses WebSocket handshakes from another origin or through a rebound name; agents (no Origin) get in", async () => {
    expect(await upgrade(server, { origin: "https://evil.example" })).toBe("refused 403");
    expect(await upgrade(server, { host: `rebind.evil.example:${port}` })).toBe("refused 403");
    expect(await upgrade(server, {})).toBe("open");
  });
});

describe("ALLOWED_HOSTS", () => {
  it("adds names and suffixes the server answers to, and refuses others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-hosts-"));
    const server = await startTestServer({ DATABASE_URL: `file:${join(dir, "c.db")}`, ALLOWED_HOSTS: "cp.example.com,.fleet.example" });
    try {
      const status = async (host: string) => (await httpRequest(`${server.url}/health`, { headers: { host } })).status;
      expect(await status("cp.example.com")).toBe(200);
      expect(await status("eu.fleet.example:8080")).toBe(200);
      expect(await status("other.example.com")).toBe(403);
    } finally {
      await server.stop();
    }
  });
});
