import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/proto/health/v1/health_pb.js";
import { eventually } from "../support/agent-process.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// A real SQLITE_FULL: SQLite's max_page_count caps the file at the pages it has now, so any
// write that needs a new page fails exactly as on a full disk (the pragma is per connection,
// and the server's Prisma client holds one connection to the file).
async function fillDisk(server: TestServer): Promise<void> {
  const [{ page_count }] = await server.app.db.prisma.$queryRawUnsafe<Array<{ page_count: bigint }>>("PRAGMA page_count");
  await server.app.db.prisma.$queryRawUnsafe(`PRAGMA max_page_count = ${Number(page_count)}`);
}

async function freeDisk(server: TestServer): Promise<void> {
  await server.app.db.prisma.$queryRawUnsafe("PRAGMA max_page_count = 1073741823");
}

// Large enough to need new pages however much free space the last page has.
const bigCompose = (n: number) => `services:\n  app:\n    image: nginx\n    labels:\n${Array.from({ length: 300 }, (_, i) => `      l${i}: "${n}-${"x".repeat(40)}"\n`).join("")}`;

describe("SQLite on a full disk", () => {
  let server: TestServer;
  const rest = (path: string, body?: unknown) => httpRequest(`${server.url}${path}`, { body });

  beforeAll(async () => {
    server = await startTestServer({ DATABASE_URL: `file:${join(mkdtempSync(join(tmpdir(), "capstan-full-")), "c.db")}` });
  });
  afterAll(async () => server?.stop());

  it("answers writes with Unavailable and Retry-After, logs each once, keeps /health 200 and reads served, and recovers", async () => {
    const created = await rest("/api/v1/deployments", { deployment_id: "before", rendered_compose: bigCompose(0) });
    expect(created.status).toBe(202);
    expect((await rest("/ready")).status).toBe(200);
    const health = createClient(Health, server.grpc);
    expect((await health.check({ service: "capstan.v1.DeploymentService" })).status).toBe(Status.SERVING);

    await fillDisk(server);
    const logsBefore = server.logs.length;
    const refused = await rest("/api/v1/deployments", { deployment_id: "during", rendered_compose: bigCompose(1) });
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("5");
    expect(refused.json).toMatchObject({ code: "unavailable" });
    expect(refused.json.message).toContain("database or disk is full");

    const grpcErr = await createClient(DeploymentService, server.grpc)
      .createDeployment({ deploymentId: "during-grpc", renderedCompose: bigCompose(2) })
      .catch((e: unknown) => ConnectError.from(e));
    expect(grpcErr).toBeInstanceOf(ConnectError);
    expect((grpcErr as ConnectError).code).toBe(Code.Unavailable);
    expect((grpcErr as ConnectError).metadata.get("retry-after")).toBe("5");

    // Each failed call is logged once (one warn line at the boundary), never as an internal error.
    const lines = server.logs.slice(logsBefore).map((l) => JSON.parse(l) as { level: number; msg: string; rpc?: string });
    const callLines = lines.filter((l) => l.rpc === "capstan.v1.DeploymentService/CreateDeployment" && l.level >= 40);
    expect(callLines.map((l) => l.msg)).toEqual(["rpc failed: the database is unavailable", "rpc failed: the database is unavailable"]);
    expect(lines.filter((l) => /unexpectedly|REST call failed/.test(l.msg))).toEqual([]);

    // Liveness stays 200 with the store's state in the body; readiness and the writing services say not serving.
    const h = await rest("/health");
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: "degraded", database: "failing", database_error: "database or disk is full" });
    expect(h.json.database_failing_since).toMatch(/^\d{4}-/);
    const ready = await rest("/ready");
    expect(ready.status).toBe(503);
    expect(ready.headers["retry-after"]).toBe("5");
    expect((await health.check({ service: "capstan.v1.DeploymentService" })).status).toBe(Status.NOT_SERVING);
    expect((await health.check({ service: "capstan.v1.NodeService" })).status).toBe(Status.NOT_SERVING);
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);

    // Reads are answered from memory meanwhile.
    expect((await rest("/api/v1/deployments/before")).status).toBe(200);
    expect((await rest("/api/v1/deployments")).json.deployments).toHaveLength(1);

    // Space comes back: the periodic probe write notices, and writes work again.
    await freeDisk(server);
    await eventually(async () => (await rest("/ready")).status === 200, 15_000, "ready again after the disk has space");
    expect((await rest("/health")).json).toMatchObject({ status: "healthy", database: "ok", database_error: "" });
    expect((await health.check({ service: "capstan.v1.DeploymentService" })).status).toBe(Status.SERVING);
    expect((await rest("/api/v1/deployments", { deployment_id: "after", rendered_compose: bigCompose(3) })).status).toBe(202);
  });
});
