import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { AuditService } from "../../gen/proto/capstan/v1/audit_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { openDatabase } from "../../src/store/database.js";
import type { Db } from "../../src/store/db.js";
import { PrismaNodeStore } from "../../src/store/node-repository.js";
import { httpRequest } from "../support/http.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// More nodes than the largest page (1000) and than several slices of an unpaged seed list.
const NODES = 1100;
const DEPLOYMENTS = 23;
const SERVICES = 17;
const nodeId = (i: number) => `ln-${String(i).padStart(5, "0")}`;
const ALL_NODE_IDS = Array.from({ length: NODES }, (_, i) => nodeId(i));

/** A database that already holds NODES nodes, written through the store as a running server would have. */
async function seededDatabase(provider: "sqlite" | "postgresql"): Promise<TestDatabase> {
  const test = await createTestDatabase(provider);
  const db = await openDatabase(test.url, pino({ level: "silent" }));
  const now = new Date();
  await db.prisma.$transaction(async (tx) => {
    // Seeded before any server reads the feed: no change rows needed.
        const store = new PrismaNodeStore({ db: tx as Db, write: (w) => w(tx as Db, () => {}) }, db.provider);
    for (let i = 0; i < NODES; i++) await store.insert(node(i, now));
  }, { timeout: 60_000 });
  await db.close();
  return test;
}

function node(i: number, now: Date): Node {
  return {
    id: nodeId(i),
    name: `lister-${i}`,
    address: `10.1.${i >> 8}.${i & 255}`,
    labels: { zone: `z${i % 3}` },
    tags: ["docker"],
    capabilities: { ...emptyCapabilities(), cpuCount: 4, memMb: 8192 },
    ports: {},
    status: "online",
    eligibility: "eligible",
    draining: false,
    agentVersion: "1.0.0",
    tokenHash: "",
    anonymous: false,
    agentKind: "rest",
    metrics: undefined,
    lastHeartbeatAt: now,
    createdAt: now,
    updatedAt: now,
  };
}

/** Follows next_page_token from the first page to the last; returns every item in order. */
async function walk<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  for (let n = 0; n < 500; n++) {
    const p = await page(token);
    all.push(...p.items);
    if (p.next === "") return all;
    expect(p.items.length).toBeGreaterThan(0);
    token = p.next;
  }
  throw new Error("paging did not end");
}

const expectOnce = (ids: string[], expected: string[]) => {
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual([...expected].sort());
};

describe.each(providers())("lists on %s", (provider) => {
  let server: TestServer;
  let database: TestDatabase;
  const rest = (path: string) => httpRequest(`${server.url}${path}`);

  beforeAll(async () => {
    database = await seededDatabase(provider);
    server = await startTestServer({ DATABASE_URL: database.url, HEARTBEAT_TTL: "1h" });
    const deployments = createClient(DeploymentService, server.grpc);
    for (let i = 0; i < DEPLOYMENTS; i++) {
      await deployments.createDeployment({ deploymentId: `dep-${i}`, renderedCompose: "services:\n  a:\n    image: busybox\n", nodeId: nodeId(i) });
    }
    // Services no node can take (a tag none has): nothing is placed, so the job list stays put while it is paged.
    const services = Array.from({ length: SERVICES }, (_, i) => ({ name: `svc-${String(i).padStart(2, "0")}`, command: "sleep 1", replicas: 1, placement: { requiredTags: ["nowhere"] } }));
    await deployments.apply({ spec: { services } });
    for (let r = 0; r < 4; r++) await deployments.createDeployment({ deploymentId: "dep-0", renderedCompose: `services:\n  a:\n    image: busybox:${r}\n`, nodeId: nodeId(0) });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  describe("every list RPC pages, and paging returns every item exactly once", () => {
    it("ListNodes pages by default (100) over gRPC, and every page over gRPC and REST covers the fleet once", async () => {
      const nodes = createClient(NodeService, server.grpc);
      const first = await nodes.listNodes({});
      expect(first.nodes).toHaveLength(100);
      expect(first.count).toBe(NODES);
      expect(first.nextPageToken).not.toBe("");
      const viaGrpc = await walk(async (t) => {
        const p = await nodes.listNodes({ pageSize: 300, pageToken: t });
        return { items: p.nodes.map((n) => n.id), next: p.nextPageToken };
      });
      expect(viaGrpc).toEqual(ALL_NODE_IDS);
      const viaRest = await walk(async (t) => {
        const r = await rest(`/api/v1/nodes?page_size=300&page_token=${encodeURIComponent(t)}`);
        expect(r.status).toBe(200);
        return { items: r.json.nodes.map((n: { node_id: string }) => n.node_id), next: r.json.next_page_token };
      });
      expect(viaRest).toEqual(ALL_NODE_IDS);
    });

    it("a page size over the maximum gets 1000", async () => {
      expect((await createClient(NodeService, server.grpc).listNodes({ pageSize: 5000 })).nodes).toHaveLength(1000);
    });

    it("ListNodeSummaries and ListAgents page over gRPC", async () => {
      const nodes = createClient(NodeService, server.grpc);
      const agents = createClient(AgentService, server.grpc);
      expect((await nodes.listNodeSummaries({})).items).toHaveLength(100);
      expect((await agents.listAgents({})).agents).toHaveLength(100);
      expectOnce(
        await walk(async (t) => {
          const p = await nodes.listNodeSummaries({ pageSize: 400, pageToken: t });
          return { items: p.items.map((n) => n.id), next: p.nextPageToken };
        }),
        ALL_NODE_IDS,
      );
      expectOnce(
        await walk(async (t) => {
          const p = await agents.listAgents({ pageSize: 333, pageToken: t });
          expect(p.total).toBe(NODES);
          return { items: p.agents.map((a) => a.id), next: p.nextPageToken };
        }),
        ALL_NODE_IDS,
      );
    });

    it("ListDeployments over gRPC and REST", async () => {
      const deployments = createClient(DeploymentService, server.grpc);
      const expected = Array.from({ length: DEPLOYMENTS }, (_, i) => `dep-${i}`);
      expectOnce(
        await walk(async (t) => {
          const p = await deployments.listDeployments({ pageSize: 5, pageToken: t });
          expect(p.count).toBe(DEPLOYMENTS);
          return { items: p.deployments.map((d) => d.id), next: p.nextPageToken };
        }),
        expected,
      );
      expectOnce(
        await walk(async (t) => {
          const r = await rest(`/api/v1/deployments?page_size=4&page_token=${encodeURIComponent(t)}`);
          return { items: r.json.deployments.map((d: { id: string }) => d.id), next: r.json.next_page_token };
        }),
        expected,
      );
    });

    it("ListJobs over gRPC and REST, newest first", async () => {
      const deployments = createClient(DeploymentService, server.grpc);
      const reference = (await deployments.listJobs({ pageSize: 1000 })).jobs.map((j) => j.id);
      expect(reference.length).toBe(DEPLOYMENTS + 4);
      expect(new Set(reference).size).toBe(reference.length);
      const viaGrpc = await walk(async (t) => {
        const p = await deployments.listJobs({ pageSize: 4, pageToken: t });
        return { items: p.jobs.map((j) => j.id), next: p.nextPageToken };
      });
      expect(viaGrpc).toEqual(reference);
      const viaRest = await walk(async (t) => {
        const r = await rest(`/api/v1/jobs?page_size=6&page_token=${encodeURIComponent(t)}`);
        return { items: r.json.jobs.map((j: { id: string }) => j.id), next: r.json.next_page_token };
      });
      expect(viaRest).toEqual(reference);
    });

    it("ListServices over gRPC and REST", async () => {
      const deployments = createClient(DeploymentService, server.grpc);
      const expected = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(2, "0")}`);
      const viaGrpc = await walk(async (t) => {
        const p = await deployments.listServices({ pageSize: 5, pageToken: t });
        return { items: p.items.map((s) => s.name), next: p.nextPageToken };
      });
      expect(viaGrpc).toEqual(expected);
      const viaRest = await walk(async (t) => {
        const r = await rest(`/api/services?page_size=3&page_token=${encodeURIComponent(t)}`);
        return { items: r.json.items.map((s: { name: string }) => s.name), next: r.json.nextPageToken };
      });
      expect(viaRest).toEqual(expected);
    });

    it("ListRevisions and ListTokens page", async () => {
      const deployments = createClient(DeploymentService, server.grpc);
      const revisions = await walk(async (t) => {
        const p = await deployments.listRevisions({ deploymentId: "dep-0", pageSize: 2, pageToken: t });
        return { items: p.revisions.map((r) => r.revision), next: p.nextPageToken };
      });
      expect(revisions).toEqual([5, 4, 3, 2, 1]);
      const tokens = createClient(TokenService, server.grpc);
      for (let i = 0; i < 3; i++) await tokens.createToken({ name: `lister-${i}`, scope: TokenScope.READ });
      const reference = (await tokens.listTokens({ includeInactive: true, pageSize: 1000 })).tokens.map((t) => t.id);
      expect(reference.length).toBeGreaterThanOrEqual(3);
      const paged = await walk(async (t) => {
        const p = await tokens.listTokens({ includeInactive: true, pageSize: 1, pageToken: t });
        return { items: p.tokens.map((x) => x.id), next: p.nextPageToken };
      });
      expect(paged).toEqual(reference);
    });

    it("ListAuditEvents over gRPC and REST, newest first", async () => {
      const audit = createClient(AuditService, server.grpc);
      // The trail is written shortly after each call: wait for the calls above to be in it.
      let reference: string[] = [];
      for (let i = 0; i < 100 && reference.length < DEPLOYMENTS + 5; i++) {
        reference = (await audit.listAuditEvents({ pageSize: 1000 })).events.map((e) => e.id);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(reference.length).toBeGreaterThanOrEqual(DEPLOYMENTS + 5);
      const viaGrpc = await walk(async (t) => {
        const p = await audit.listAuditEvents({ pageSize: 7, pageToken: t });
        return { items: p.events.map((e) => e.id), next: p.nextPageToken };
      });
      expect(viaGrpc.slice(-reference.length)).toEqual(reference);
      const viaRest = await walk(async (t) => {
        const r = await rest(`/api/v1/audit?page_size=9&page_token=${encodeURIComponent(t)}`);
        return { items: r.json.events.map((e: { id: string }) => e.id), next: r.json.next_page_token };
      });
      expect(viaRest.slice(-reference.length)).toEqual(reference);
    });
  });

  describe("the seeds' clients, which never page, still get every item", () => {
    it("GET /api/v1/nodes (ElioP2P) answers every node with count and an empty next_page_token", async () => {
      const r = await rest("/api/v1/nodes");
      expect(r.status).toBe(200);
      expect(r.headers["content-type"]).toMatch(/^application\/json/);
      expect(r.json.count).toBe(NODES);
      expect(r.json.next_page_token).toBe("");
      expect(r.json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(ALL_NODE_IDS);
      expect(r.json.nodes[0]).toMatchObject({ id: nodeId(0), node_id: nodeId(0), address: "10.1.0.0", memory_capacity_mb: 8192 });
    });

    it("GET /api/nodes (Orion) answers every node in {items}, camelCase", async () => {
      const r = await rest("/api/nodes");
      expect(r.status).toBe(200);
      expect(r.json.items.map((n: { id: string }) => n.id)).toEqual(ALL_NODE_IDS);
      expect(r.json.items[0]).toMatchObject({ id: nodeId(0), status: "ready", capacity: { cpu: 4, memory: 8192 } });
      expect(typeof r.json.items[0].lastHeartbeat).toBe("string");
    });

    it("GET /agents (InstaDeploy) answers every agent and the total", async () => {
      const r = await rest("/agents");
      expect(r.status).toBe(200);
      expect(r.json.total).toBe(NODES);
      expect(r.json.agents.map((a: { id: string }) => a.id)).toEqual(ALL_NODE_IDS);
      expect(r.json.agents[0]).toMatchObject({ id: nodeId(0), hostname: "lister-0", ip_address: "10.1.0.0", status: "online" });
    });

    it("GET /api/services (Orion) answers every service", async () => {
      const r = await rest("/api/services");
      expect(r.status).toBe(200);
      expect(r.json.items).toHaveLength(SERVICES);
    });

    it("the same paths with paging parameters answer one page", async () => {
      const r = await rest("/api/nodes?page_size=10");
      expect(r.json.items).toHaveLength(10);
      expect(r.json.nextPageToken).not.toBe("");
      const next = await rest(`/api/nodes?page_size=10&page_token=${r.json.nextPageToken}`);
      expect(next.json.items[0].id).toBe(nodeId(10));
    });
  });

  describe("malformed page tokens", () => {
    const garbage = "%%%garbage%%%";

    it.each(["/api/v1/nodes", "/api/nodes", "/agents", "/api/services", "/api/v1/deployments", "/api/v1/jobs", "/api/v1/audit"])(
      "GET %s?page_token=<garbage> is 400 naming page_token",
      async (path) => {
        const r = await rest(`${path}?page_token=${encodeURIComponent(garbage)}`);
        expect(r.status).toBe(400);
        expect(r.json.code).toBe("invalid_argument");
        expect(r.json.message).toMatch(/^page_token: /);
      },
    );

    it("a Connect JSON ListNodes with {pageToken: garbage} is 400 invalid_argument", async () => {
      const r = await httpRequest(`${server.url}/capstan.v1.NodeService/ListNodes`, { body: { pageToken: garbage } });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^page_token: /) });
    });

    it.each([
      ["ListNodes", () => createClient(NodeService, server.grpc).listNodes({ pageToken: garbage })],
      ["ListAgents", () => createClient(AgentService, server.grpc).listAgents({ pageToken: garbage })],
      ["ListJobs", () => createClient(DeploymentService, server.grpc).listJobs({ pageToken: garbage })],
      ["ListDeployments", () => createClient(DeploymentService, server.grpc).listDeployments({ pageToken: "MTAw" })],
      ["ListServices", () => createClient(DeploymentService, server.grpc).listServices({ pageToken: garbage })],
      ["ListAuditEvents", () => createClient(AuditService, server.grpc).listAuditEvents({ pageToken: garbage })],
      ["ListTokens", () => createClient(TokenService, server.grpc).listTokens({ pageToken: garbage })],
    ])("%s over gRPC is InvalidArgument naming page_token", async (_, call) => {
      const err = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.rawMessage).toMatch(/^page_token: /);
    });

    it("a token from another list is refused", async () => {
      const nodesToken = (await createClient(NodeService, server.grpc).listNodes({ pageSize: 1 })).nextPageToken;
      const err = await createClient(DeploymentService, server.grpc)
        .listDeployments({ pageToken: nodesToken })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err?.code).toBe(Code.InvalidArgument);
    });
  });

  describe("an unpaged list under the rate limit", () => {
    it("is charged once, not once per slice, so it is never cut off halfway", async () => {
      // One call per second per client; the list is 5 slices fetched back to back.
      const limitedDb = await seededDatabase(provider);
      const limited = await startTestServer({ DATABASE_URL: limitedDb.url, HEARTBEAT_TTL: "1h", RATE_LIMIT: "1" });
      try {
        const r = await httpRequest(`${limited.url}/api/v1/nodes`);
        expect(r.status).toBe(200);
        expect(r.json.nodes).toHaveLength(NODES);
      } finally {
        await limited.stop();
        await limitedDb.drop();
      }
    }, 60_000);
  });
});
