import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventService } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { eventually } from "../support/agent-process.js";
import { follow } from "../support/event-watcher.js";
import { httpRequest } from "../support/http.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { proxiedDatabaseUrl, type TcpProxy } from "../support/tcp-proxy.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// PostgreSQL behind a TCP proxy the test cuts (as in store-outage.e2e.test.ts): what a watcher sees
// when the store goes away mid-stream and comes back.
describe.skipIf(!providers().includes("postgresql"))("an event watcher while PostgreSQL is unreachable", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase("postgresql");
    const proxied = await proxiedDatabaseUrl(db.url);
    proxy = proxied.proxy;
    server = await startTestServer({ DATABASE_URL: proxied.url, EVENTS_HEARTBEAT: "200ms" });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it("keeps a following watcher's stream open (heartbeats) through the outage, then goes on without a gap; a watch that needs the store meanwhile gets Unavailable", async () => {
    const register = (id: string) => createClient(NodeService, server.grpc).registerNode({ nodeId: id, name: id, address: "10.0.0.1" });
    const events = createClient(EventService, server.grpc);
    const watch = follow((signal) => events.watchEvents({ topics: ["nodes"] }, { signal }));
    try {
      await watch.until((e) => e.topic === "heartbeat");
      await register("before");
      const before = await watch.until((e) => e.key === "before");

      await proxy.cut();
      await eventually(async () => (await httpRequest(`${server.url}/ready`)).status === 503, 20_000, "not ready while PostgreSQL is away");
      // Still open, and still beating: the watcher learns the stream is alive and where it stands.
      const mark = watch.seen.length;
      const beat = await watch.until((e) => e.topic === "heartbeat", 5_000, mark);
      expect(beat.index).toBe(before.index);
      await watch.until((e) => e.topic === "heartbeat", 5_000, watch.seen.indexOf(beat) + 1);
      expect(watch.ended()).toBeUndefined();
      // A watch that must read the store (a replay from the oldest change kept) cannot: Unavailable, retry later.
      const refused = await (async () => {
        for await (const _ of events.watchEvents({ fromIndex: 0n })) return undefined;
      })().catch((e: unknown) => ConnectError.from(e));
      expect(refused?.code).toBe(Code.Unavailable);
      expect(server.logs.filter((l) => /rpc failed unexpectedly/.test(l))).toEqual([]);

      await proxy.restore();
      await eventually(async () => (await httpRequest(`${server.url}/ready`)).status === 200, 20_000, "ready once PostgreSQL is back");
      await eventually(async () => register("after-1").then(() => true), 20_000, "a write once PostgreSQL is back");
      await register("after-2");
      await watch.until((e) => e.key === "after-2");
      const followed = watch.seen.filter((e) => e.topic === "nodes");
      // No gap: what the watcher got across the outage is exactly what a replay from before it gives.
      const replay: Array<{ index: bigint; key: string }> = [];
      for await (const r of events.watchEvents({ topics: ["nodes"], fromIndex: before.index })) {
        if (r.event?.topic === "nodes") replay.push({ index: r.event.index, key: r.event.key });
        if (r.event?.key === "after-2") break;
      }
      expect(followed.slice(followed.indexOf(before) + 1).map((e) => ({ index: e.index, key: e.key }))).toEqual(replay);
      expect(replay.map((e) => e.key)).toEqual(["after-1", "after-2"]);
    } finally {
      watch.stop();
    }
  }, 90_000);
});
