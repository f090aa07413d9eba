import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import type { Node } from "../../src/model/node.js";
import { emptyCapabilities } from "../../src/model/node.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { postgresForReplicas } from "../support/replicas.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const silent = pino({ level: "silent" });

function node(id: string): Node {
  const now = new Date();
  return {
    id, name: id, address: "", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, status: "online", eligibility: "eligible",
    draining: false, agentVersion: "", tokenHash: `hash-${id}`, anonymous: false, agentKind: "grpc", metrics: undefined, lastHeartbeatAt: now, createdAt: now, updatedAt: now,
  };
}

describe.each(providers())("the change feed on %s", (provider) => {
  let test: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    test = await createTestDatabase(provider);
    db = await openDatabase(test.url, silent, { replicaId: "a" });
  });
  afterAll(async () => {
    await db?.close();
    await test?.drop();
  });

  it("numbers changes without holes, in commit order, and a rolled-back write leaves none", async () => {
    const head = await db.feed.head();
    await db.nodes.insert(node("f1"));
    await expect(db.transaction(async (tx) => {
      await tx.nodes.insert(node("f-rolled-back"));
      throw new Error("abandoned");
    })).rejects.toThrow("abandoned");
    await db.transaction(async (tx) => {
      await tx.nodes.upsert({ ...node("f1"), draining: true });
      await tx.nodes.insert(node("f2"));
    });
    await db.nodes.flushHeartbeats([{ id: "f1", lastHeartbeatAt: new Date(), metrics: undefined }, { id: "f2", lastHeartbeatAt: new Date(), metrics: undefined }]);
    const changes = await db.feed.after(head, 100);
    expect(changes.map((c) => [c.seq - head, c.entity, c.key, c.origin])).toEqual([
      [1, "node", "f1", "a"],
      [2, "node", "f1", "a"],
      [3, "node", "f2", "a"],
      // One row for a whole heartbeat flush, naming its nodes.
      [4, "heartbeats", "f1,f2", "a"],
    ]);
    expect(changes[1]).toMatchObject({ node: { id: "f1", draining: true } });
    expect(await db.feed.head()).toBe(head + 4);
  });

  it("keeps facts (agent connections, decisions) in their own rows, each with its data, in commit order", async () => {
    const head = await db.feed.head();
    const at = new Date().toISOString();
    const agent = (connected: boolean) => ({ entity: "agent" as const, key: "n1", fact: { nodeId: "n1", connected, protocol: "grpc", replica: "a", at } });
    // Two facts about one node in one transaction stay two rows (state changes would be one).
    await db.facts.append([agent(true), agent(false)]);
    await db.transaction(async (tx) => {
      await tx.nodes.insert(node("f3"));
      await tx.facts.append([{ entity: "decision", key: "web", fact: { kind: "placed", service: "web", nodeId: "f3", replicaId: "web-1", reason: "chosen", scoreTerms: { fullness: 0.25 }, at } }]);
    });
    const changes = await db.feed.after(head, 100);
    expect(changes.map((c) => [c.seq - head, c.entity, c.key])).toEqual([
      [1, "agent", "n1"],
      [2, "agent", "n1"],
      [3, "node", "f3"],
      [4, "decision", "web"],
    ]);
    expect(changes[0]).toMatchObject({ agent: { connected: true, protocol: "grpc" } });
    expect(changes[1]).toMatchObject({ agent: { connected: false } });
    expect(changes[3]).toMatchObject({ decision: { kind: "placed", nodeId: "f3", scoreTerms: { fullness: 0.25 } } });
  });
});

describe.runIf(postgresForReplicas())("two changes committing out of order on PostgreSQL", () => {
  let test: TestDatabase;
  let a: Database;
  let b: Database;
  let reader: ServerProcess;
  beforeAll(async () => {
    test = await createTestDatabase("postgresql");
    a = await openDatabase(test.url, silent, { replicaId: "a" });
    b = await openDatabase(test.url, silent, { replicaId: "b" });
    reader = await startServerProcess({ startTimeoutMs: 90_000, env: { DATABASE_URL: test.url, REPLICA_ID: "reader" } });
  }, 120_000);
  afterAll(async () => {
    await reader?.stop();
    await a?.close();
    await b?.close();
    await test?.drop();
  });

  it("both reach every reader: the one that began first and committed last is numbered after the other", async () => {
    const head = await b.feed.head();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let wrote = () => {};
    const written = new Promise<void>((resolve) => (wrote = resolve));
    // T1 begins first and writes its row first, then stays open.
    const first = a.transaction(async (tx) => {
      await tx.nodes.insert(node("early-begun"));
      wrote();
      await held;
    });
    await written;
    // T2 begins later and commits while T1 is still open.
    await b.nodes.insert(node("late-begun"));
    const seen = await b.feed.after(head, 100);
    expect(seen.map((c) => c.key)).toEqual(["late-begun"]);
    // A reader that has seen T2's change resumes after it...
    const cursor = seen[0].seq;
    release();
    await first;
    // ...and still gets T1's: its number was taken at its commit, after T2's.
    const next = await b.feed.after(cursor, 100);
    expect(next.map((c) => [c.seq, c.key])).toEqual([[cursor + 1, "early-begun"]]);

    // A server process following the feed has both, at the index of the later commit.
    const nodes = createClient(NodeService, createGrpcTransport({ baseUrl: reader.url }));
    const headers = { authorization: `Bearer ${reader.adminToken}`, "capstan-min-index": String(cursor + 1) };
    for (const nodeId of ["early-begun", "late-begun"]) expect((await nodes.getNode({ nodeId }, { headers })).node?.id).toBe(nodeId);
  }, 60_000);
});
