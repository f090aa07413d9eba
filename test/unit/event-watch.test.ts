import { describe, expect, it } from "vitest";
import { watchEvents, type EventWatchOptions, type FeedSignal, type WatchItem, type WatchRequest } from "../../src/events/event-watch.js";
import { ADMIN_TOPICS, TOPICS, type Topic } from "../../src/events/topics.js";
import type { LoadedChange } from "../../src/model/change-feed.js";
import { DomainError } from "../../src/model/errors.js";
import type { Job } from "../../src/model/job.js";
import type { Node } from "../../src/model/node.js";
import { replica, spec } from "../fakes/service-specs.js";

/** A change row before the feed numbers it (Omit over each member of the union). */
type Row = LoadedChange extends infer T ? (T extends LoadedChange ? Omit<T, "seq" | "origin"> : never) : never;

/** A change feed in memory: rows in seq order, the oldest ones pruned by `prune`. */
class MemoryFeed {
  rows: LoadedChange[] = [];
  pruned = 0;
  add(row: Row): void {
    this.rows.push({ ...row, seq: this.rows.length + this.pruned + 1, origin: "r1" } as LoadedChange);
  }
  prune(count: number): void {
    this.rows.splice(0, count);
    this.pruned += count;
  }
  async head() {
    return this.rows.length + this.pruned;
  }
  async after(seq: number, limit: number) {
    return this.rows.filter((r) => r.seq > seq).slice(0, limit);
  }
  async oldest() {
    return this.rows[0]?.seq ?? 0;
  }
}

/** A signal over the memory feed; `next` never waits long in these tests. */
function signalOf(feed: MemoryFeed): FeedSignal {
  return { head: () => feed.rows.length + feed.pruned, next: async () => false };
}

const node = (id: string) => ({ id, name: id }) as Node;
const job = (id: string, type: Job["type"]) => ({ id, type }) as Job;
const OPTIONS: EventWatchOptions = { heartbeatMs: 60_000, maxLag: 1_000, batch: 2 };
const ALL = new Set<Topic>(TOPICS);
const NOT_ADMIN = new Set<Topic>(TOPICS.filter((t) => !ADMIN_TOPICS.has(t)));

function sample(): MemoryFeed {
  const feed = new MemoryFeed();
  feed.add({ entity: "node", key: "n1", op: "put", node: node("n1") });
  feed.add({ entity: "job", key: "j1", op: "put", job: job("j1", "deploy_compose") });
  feed.add({ entity: "token", key: "t1", op: "put", token: undefined });
  feed.add({ entity: "job", key: "j2", op: "put", job: job("j2", "replicate_chunk") });
  feed.add({ entity: "heartbeats", key: "n1,n2", op: "put", nodes: [node("n1"), node("n2")] });
  feed.add({ entity: "service", key: "web", op: "put", service: { id: "web", spec: spec("web"), specHash: "h", createdAt: new Date(), updatedAt: new Date() } });
  feed.add({ entity: "replica", key: "web-1", op: "put", replica: replica("web", "n1") });
  feed.add({ entity: "node", key: "n1", op: "delete", node: undefined });
  return feed;
}

/** Runs a watch until a heartbeat says it has read the whole feed, or throws. */
async function collect(feed: MemoryFeed, req: Partial<WatchRequest>, allowed: ReadonlySet<Topic> = ALL, options = OPTIONS): Promise<WatchItem[]> {
  const abort = new AbortController();
  const out: WatchItem[] = [];
  const full: WatchRequest = { topics: new Set(), keys: new Set(), fromIndex: 0, ...req };
  for await (const item of watchEvents(feed, signalOf(feed), full, allowed, { ...options, heartbeatMs: 0 }, abort.signal)) {
    out.push(item);
    if (item.topic === "heartbeat" && item.index >= (await feed.head())) break;
  }
  return out;
}
const brief = (items: WatchItem[]) => items.filter((i) => i.topic !== "heartbeat").map((i) => `${i.index} ${i.topic} ${i.type} ${i.key}`);

describe("watching the change feed", () => {
  const cases: Array<[string, Partial<WatchRequest>, ReadonlySet<Topic>, string[]]> = [
    [
      "every change in order, a heartbeat flush as one event per node at its index",
      {}, ALL,
      ["1 nodes put n1", "2 jobs put j1", "3 tokens put t1", "4 chunk_commands put j2", "5 nodes put n1", "5 nodes put n2", "6 services put web", "7 replicas put web-1", "8 nodes delete n1"],
    ],
    ["no token events without the admin scope", {}, NOT_ADMIN, ["1 nodes put n1", "2 jobs put j1", "4 chunk_commands put j2", "5 nodes put n1", "5 nodes put n2", "6 services put web", "7 replicas put web-1", "8 nodes delete n1"]],
    ["only the topics asked for", { topics: new Set<Topic>(["jobs", "chunk_commands"]) }, ALL, ["2 jobs put j1", "4 chunk_commands put j2"]],
    ["only the keys asked for", { keys: new Set(["n2", "web"]) }, ALL, ["5 nodes put n2", "6 services put web"]],
    ["resumes after an index", { fromIndex: 5 }, ALL, ["6 services put web", "7 replicas put web-1", "8 nodes delete n1"]],
    ["from now on when no index is given", { fromIndex: undefined }, ALL, []],
  ];
  it.each(cases)("%s", async (_what, req, allowed, expected) => {
    expect(brief(await collect(sample(), req, allowed))).toEqual(expected);
  });

  it("makes agent connections and scheduler decisions events of their own topics, typed by what happened", async () => {
    const feed = sample();
    const at = new Date().toISOString();
    feed.add({ entity: "agent", key: "n1", op: "put", agent: { nodeId: "n1", connected: true, protocol: "grpc", replica: "r1", at } });
    feed.add({ entity: "decision", key: "web", op: "put", decision: { kind: "placed", service: "web", nodeId: "n1", replicaId: "web-2", reason: "chosen", at } });
    feed.add({ entity: "decision", key: "api", op: "put", decision: { kind: "unplaceable", service: "api", reason: "0 of 3 nodes fit: cpu 3", at } });
    feed.add({ entity: "agent", key: "n1", op: "put", agent: { nodeId: "n1", connected: false, protocol: "grpc", replica: "r1", at } });
    expect(brief(await collect(feed, { fromIndex: 8 }))).toEqual([
      "9 agents connected n1",
      "10 scheduler_decisions placed web",
      "11 scheduler_decisions unplaceable api",
      "12 agents disconnected n1",
    ]);
    expect(brief(await collect(feed, { fromIndex: 8, topics: new Set<Topic>(["scheduler_decisions"]), keys: new Set(["api"]) }))).toEqual(["11 scheduler_decisions unplaceable api"]);
  });

  it("opens with a heartbeat carrying the index it starts from", async () => {
    const items = await collect(sample(), { fromIndex: 3 });
    expect(items[0]).toEqual({ topic: "heartbeat", type: "heartbeat", index: 3, key: "" });
    expect(items[items.length - 1]).toMatchObject({ topic: "heartbeat", index: 8 });
  });

  it("refuses an index older than the oldest change kept, naming it", async () => {
    const feed = sample();
    feed.prune(3);
    await expect(collect(feed, { fromIndex: 1 })).rejects.toThrow(/index 1 is older than the oldest change kept \(4\)/);
    expect(brief(await collect(feed, { fromIndex: 3 }))[0]).toBe("4 chunk_commands put j2");
  });

  it("cuts off a watcher that falls too far behind, saying where to resume", async () => {
    const feed = sample();
    for (let i = 0; i < 20; i++) feed.add({ entity: "node", key: `x${i}`, op: "put", node: node(`x${i}`) });
    const err = await collect(feed, { fromIndex: 0 }, ALL, { ...OPTIONS, maxLag: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe("resource_exhausted");
    expect((err as Error).message).toMatch(/fell \d+ changes behind .* watch again from index 2$/);
  });
});
