import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/proto/health/v1/health_pb.js";
import { eventually } from "../support/agent-process.js";
import { httpRequest } from "../support/http.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { proxiedDatabaseUrl, type TcpProxy } from "../support/tcp-proxy.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const compose = "services:\n  web:\n    image: nginx\n";

// PostgreSQL behind a TCP proxy the test cuts: the server's connections break and new ones are
// refused, as when the database is stopped, while the test's own database stays up for others.
describe.skipIf(!providers().includes("postgresql"))("PostgreSQL unreachable", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  const rest = (path: string, body?: unknown, method?: string) => httpRequest(`${server.url}${path}`, { body, method });
  const grpcError = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => ConnectError.from(e));

  beforeAll(async () => {
    db = await createTestDatabase("postgresql");
    const proxied = await proxiedDatabaseUrl(db.url);
    proxy = proxied.proxy;
    server = await startTestServer({ DATABASE_URL: proxied.url });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it("answers every read memory can answer, refuses the rest and every write with Unavailable, and recovers", async () => {
    expect((await rest("/api/v1/nodes", { node_id: "edge-1", address: "10.0.0.1" })).status).toBe(201);
    const created = await rest("/api/v1/deployments", { deployment_id: "web", rendered_compose: compose, node_id: "edge-1" });
    expect(created.status).toBe(202);
    const jobId = created.json.job_id as string;
    expect(jobId).not.toBe("");

    await proxy.cut();

    // Reads the in-memory views hold.
    const got = await rest("/api/v1/deployments/web");
    expect(got.status).toBe(200);
    expect(got.json.deployment).toMatchObject({ id: "web", node_id: "edge-1" });
    expect(got.json.deployment.jobs.map((j: { id: string }) => j.id)).toEqual([jobId]);
    const client = createClient(DeploymentService, server.grpc);
    const queued = await client.listJobs({ status: JobStatus.QUEUED });
    expect(queued.jobs.map((j) => j.id)).toEqual([jobId]);
    expect((await client.getJob({ jobId })).job?.id).toBe(jobId);
    for (const path of ["/api/v1/deployments", "/api/v1/nodes", "/api/nodes", "/agents", "/api/services", "/projects/web/status"]) {
      expect({ path, status: (await rest(path)).status }).toEqual({ path, status: 200 });
    }

    // Reads only the store can answer: Unavailable with Retry-After, not 500.
    const revisions = await rest("/api/v1/deployments/web/revisions");
    expect(revisions.status).toBe(503);
    expect(revisions.headers["retry-after"]).toBe("5");
    expect((await grpcError(client.listJobs({})))?.code).toBe(Code.Unavailable);

    // Writes: 503 with Retry-After over REST, UNAVAILABLE over gRPC.
    const write = await rest("/api/v1/deployments", { deployment_id: "api", rendered_compose: compose });
    expect(write.status).toBe(503);
    expect(write.headers["retry-after"]).toBe("5");
    expect(write.json.code).toBe("unavailable");
    expect((await grpcError(client.createDeployment({ deploymentId: "api", renderedCompose: compose })))?.code).toBe(Code.Unavailable);
    expect(server.logs.filter((l) => /rpc failed unexpectedly|REST call failed/.test(l))).toEqual([]);

    const health = await rest("/health");
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: "degraded", database: "unavailable" });
    expect(health.json.database_error).not.toBe("");
    expect((await rest("/ready")).status).toBe(503);
    expect((await createClient(Health, server.grpc).check({ service: "capstan.v1.DeploymentService" })).status).toBe(Status.NOT_SERVING);

    await proxy.restore();
    await eventually(async () => (await rest("/ready")).status === 200, 20_000, "ready once PostgreSQL is back");
    expect((await rest("/health")).json).toMatchObject({ status: "healthy", database: "ok" });
    expect((await rest("/api/v1/deployments", { deployment_id: "api", rendered_compose: compose })).status).toBe(202);
    expect((await rest("/api/v1/deployments/web/revisions")).status).toBe(200);
  });
});
