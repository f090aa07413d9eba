import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventService, type Event } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** Reads Server-Sent Events from a fetch response until `enough` says stop. */
async function readSse(res: Response, enough: (events: Array<{ id?: string; data: any }>) => boolean): Promise<Array<{ id?: string; data: any }>> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: Array<{ id?: string; data: any }> = [];
  let buffer = "";
  while (!enough(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data) events.push({ id, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

describe.each(providers())("the event stream on %s", (provider) => {
  let db: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    db = await createTestDatabase(provider);
    server = await startTestServer({ DATABASE_URL: db.url, EVENTS_HEARTBEAT: "200ms" });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });
  const register = (id: string) => createClient(NodeService, server.grpc).registerNode({ nodeId: id, name: id, address: "10.0.0.1" });

  it("a gRPC watcher resumes after a disconnect from its last index without missing an event", async () => {
    const events = createClient(EventService, server.grpc);
    const first = new AbortController();
    const seen: Event[] = [];
    const stream = events.watchEvents({ topics: ["nodes"] }, { signal: first.signal });
    const iterator = stream[Symbol.asyncIterator]();
    // The stream opens with a heartbeat carrying the index it starts from.
    expect((await iterator.next()).value.event.topic).toBe("heartbeat");
    await register("w-a");
    for (;;) {
      const e = (await iterator.next()).value.event as Event;
      if (e.topic === "nodes") {
        seen.push(e);
        break;
      }
    }
    first.abort();
    await iterator.return?.();
    // Changes while nobody watches.
    await register("w-b");
    await register("w-c");
    const resumed: Event[] = [];
    const again = new AbortController();
    for await (const r of events.watchEvents({ topics: ["nodes"], fromIndex: seen[0].index }, { signal: again.signal })) {
      if (r.event?.topic === "nodes") resumed.push(r.event);
      if (resumed.length === 2) break;
    }
    again.abort();
    expect(resumed.map((e) => e.key)).toEqual(["w-b", "w-c"]);
    expect(resumed[0].index).toBeGreaterThan(seen[0].index);
    expect(resumed[1].index).toBeGreaterThan(resumed[0].index);
    expect(resumed[0].payload.case).toBe("node");
  });

  it("serves Server-Sent Events that resume with Last-Event-ID, each id the event's index", async () => {
    const open = await fetch(`${server.url}/api/v1/events?topics=nodes`);
    expect(open.headers.get("content-type")).toMatch(/^text\/event-stream/);
    await register("s-a");
    const got = await readSse(open, (ev) => ev.some((e) => e.data.event.key === "s-a"));
    const seen = got.find((e) => e.data.event.key === "s-a")!;
    expect(seen.id).toBe(seen.data.event.index);
    expect(typeof seen.data.event.index).toBe("string");
    await register("s-b");
    await register("s-c");
    const resumed = await fetch(`${server.url}/api/v1/events?topics=nodes`, { headers: { "last-event-id": seen.id! } });
    const later = await readSse(resumed, (ev) => ev.filter((e) => e.data.event.topic === "nodes").length >= 2);
    expect(later.filter((e) => e.data.event.topic === "nodes").map((e) => e.data.event.key)).toEqual(["s-b", "s-c"]);
  });

  it("shows token events only to admins, and refuses a read token the tokens topic", async () => {
    const created = await createClient(TokenService, server.grpc).createToken({ name: "watcher", scope: TokenScope.READ });
    const read = server.withToken(created.secret);
    const refused = await (async () => {
      for await (const _ of createClient(EventService, read.grpc).watchEvents({ topics: ["tokens"] })) return undefined;
    })().catch((e: unknown) => ConnectError.from(e));
    expect(refused?.code).toBe(Code.PermissionDenied);
    expect(refused?.message).toMatch(/"tokens" needs a token with the admin scope/);
    // A read token's stream of every topic leaves tokens out; dev mode (an admin) sees them.
    const start = (await createClient(NodeService, server.grpc).listNodes({})).nodes.length;
    expect(start).toBeGreaterThan(0);
    const topicsSeen = async (transport: TestServer["grpc"]) => {
      const topics = new Set<string>();
      for await (const r of createClient(EventService, transport).watchEvents({ fromIndex: 0n })) {
        if (r.event?.topic === "heartbeat" && topics.size > 0) break;
        if (r.event && r.event.topic !== "heartbeat") topics.add(r.event.topic);
      }
      return topics;
    };
    expect(await topicsSeen(server.grpc)).toContain("tokens");
    const forReader = await topicsSeen(read.grpc);
    expect(forReader).toContain("nodes");
    expect(forReader).not.toContain("tokens");
  });

  it("capstan events -f prints each event as it happens, one JSON object per line with -o json", async () => {
    const bin = fileURLToPath(new URL("../../src/cli/bin.mjs", import.meta.url));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CAPSTAN_")));
    const child = spawn(process.execPath, [bin, "--server", server.url, "events", "-f", "--topic", "nodes", "--id", "cli-a", "-o", "json"], { env, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      // The CLI starts from now on: keep registering until its stream has opened and shows one.
      const timer = setInterval(() => void register("cli-a").catch(() => undefined), 300);
      const line = await lines.next();
      if (line.done) throw new Error(`capstan events ended: ${stderr}`);
      const first = JSON.parse(String(line.value)) as { topic: string; key: string; index: string; node: { id: string } };
      clearInterval(timer);
      expect(first).toMatchObject({ topic: "nodes", key: "cli-a", node: { id: "cli-a" } });
      expect(first.index).toMatch(/^\d+$/);
    } finally {
      child.kill();
    }
  }, 120_000);

  it("names a wrong topic, and answers an unknown job's watch over REST as a JSON 404", async () => {
    const bad = await fetch(`${server.url}/api/v1/events?topics=everything`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe("topics[0]");
    const missing = await fetch(`${server.url}/api/v1/jobs/no-such-job/watch`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toMatch(/json/);
  });
});
