import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SERVICES } from "../../src/app/routes.js";
import { createGateway } from "../../src/gateway/gateway.js";
import { httpRequest } from "../support/http.js";
import { ADMIN_TOKEN, startRouterApp, type RouterApp } from "../support/router-app.js";

/**
 * The REST gateway alone, transcoding onto a router transport over the real
 * handlers and interceptors (memory stores underneath). A bare node:http
 * server feeds it requests: no Connect adapter, no one-port server.
 */
describe("REST gateway onto a router transport", () => {
  let r: RouterApp;
  let server: http.Server;
  let base: string;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeEach(async () => {
    r = await startRouterApp();
    const gateway = createGateway({ services: SERVICES, transport: r.bare, logger: r.app.logger });
    server = http.createServer((req, res) => {
      gateway.handle(req, res).then(
        (handled) => void (handled || res.writeHead(418).end()),
        (err: unknown) => void res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await r.stop();
  });

  it("transcodes POST /api/v1/nodes/register onto RegisterNode: 201, snake_case JSON, the node stored", async () => {
    const res = await httpRequest(`${base}/api/v1/nodes/register`, { body: { name: "worker-01", labels: { zone: "a" } }, headers: admin });
    expect(res.status).toBe(201);
    expect(res.json.message).toBe("Node registered successfully");
    expect(res.json.node_token).toMatch(/^cpn_/);
    // The in-process call has no host: the gateway passes the caller's on.
    expect(res.json.control_plane_url).toBe(base);
    expect(r.app.db.nodes.rows.get(res.json.node_id)?.labels).toEqual({ zone: "a" });
  });

  it("fills GET path parameters into the request and answers a domain NotFound with 404 and a JSON error", async () => {
    const res = await httpRequest(`${base}/api/v1/nodes/ghost`, { headers: admin });
    expect(res.status).toBe(404);
    expect(res.json.code).toBe("not_found");
    expect(res.json.message).toContain('"ghost"');
  });

  it("answers 400 naming the field when the handler refuses a query parameter", async () => {
    const res = await httpRequest(`${base}/api/v1/nodes?label_selector=zone`, { headers: admin });
    expect(res.status).toBe(400);
    expect(res.json.field).toBe("label_selector");
  });

  it("runs the same guard as RPCs: a read without a token is 401", async () => {
    const res = await httpRequest(`${base}/api/v1/nodes`);
    expect(res.status).toBe(401);
    expect(res.json.code).toBe("unauthenticated");
  });

  it("leaves paths it does not bind to the caller", async () => {
    const res = await httpRequest(`${base}/not/a/binding`, { headers: admin });
    expect(res.status).toBe(418);
  });
});
