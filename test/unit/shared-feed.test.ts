import { setMaxListeners } from "node:events";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { watchEvents, type WatchItem } from "../../src/events/event-watch.js";
import { SharedFeed, type FeedProgress } from "../../src/events/shared-feed.js";
import { TOPICS, type Topic } from "../../src/events/topics.js";
import type { LoadedChange } from "../../src/model/change-feed.js";
import type { Node } from "../../src/model/node.js";

const silent = pino({ level: "silent" });

/** A change feed in memory that counts its reads, and can fail them (a store outage). */
class CountingFeed {
  rows: LoadedChange[] = [];
  reads = 0;
  down = false;
  add(id: string): number {
    const seq = this.rows.length + 1;
    this.rows.push({ seq, entity: "node", key: id, op: "put", origin: "r1", node: { id, name: id } as Node });
    return seq;
  }
  async after(seq: number, limit: number): Promise<LoadedChange[]> {
    this.reads++;
    if (this.down) throw new Error("store unavailable");
    return this.rows.filter((r) => r.seq > seq).slice(0, limit);
  }
  async oldest(): Promise<number> {
    return this.rows[0]?.seq ?? 0;
  }
}

/** The follower's side: an index that moves when told to. */
class Progress implements FeedProgress {
  index = 0;
  private readonly listeners = new Set<(index: number) => void>();
  onAdvance(listener: (index: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  advance(index: number): void {
    this.index = index;
    for (const l of this.listeners) l(index);
  }
}

const OPTIONS = { heartbeatMs: 60_000, maxLag: 10_000, batch: 100 };

/** Starts `n` watchers from `from`; each collects its node keys until it has `want`. */
function watchers(shared: SharedFeed, n: number, from: number | undefined, want: number, abort: AbortSignal): Array<Promise<string[]>> {
  return Array.from({ length: n }, async () => {
    const keys: string[] = [];
    const req = { topics: new Set<Topic>(), keys: new Set<string>(), fromIndex: from };
    for await (const item of watchEvents(shared.reader, shared, req, new Set(TOPICS), OPTIONS, abort) as AsyncGenerator<WatchItem>) {
      if (item.topic !== "heartbeat") keys.push(item.key);
      if (keys.length === want) break;
    }
    return keys;
  });
}

/** Lets pending reads and wake-ups run. */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe("the event watchers' shared reader", () => {
  it("reads the feed once per advance however many watchers follow it", async () => {
    const feed = new CountingFeed();
    const progress = new Progress();
    const shared = new SharedFeed(feed, { batch: 100, keep: 400, retryMs: 10 }, silent);
    shared.start(progress);
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const all = watchers(shared, 50, undefined, 3, abort.signal);
    await settle();
    expect(feed.reads).toBe(0);
    for (const id of ["a", "b", "c"]) {
      const seq = feed.add(id);
      progress.advance(seq);
      await settle();
    }
    expect(await Promise.all(all)).toEqual(Array.from({ length: 50 }, () => ["a", "b", "c"]));
    // Three advances, three reads: not one per watcher.
    expect(feed.reads).toBe(3);
    abort.abort();
    await shared.stop();
  });

  it("reads nothing while nobody watches, and a watcher that comes later still gets every change after its index", async () => {
    const feed = new CountingFeed();
    const progress = new Progress();
    const shared = new SharedFeed(feed, { batch: 100, keep: 400, retryMs: 10 }, silent);
    shared.start(progress);
    for (const id of ["a", "b", "c"]) progress.advance(feed.add(id));
    await settle();
    expect(feed.reads).toBe(0);
    const abort = new AbortController();
    const [late] = watchers(shared, 1, 1, 3, abort.signal);
    await settle();
    progress.advance(feed.add("d"));
    expect(await late).toEqual(["b", "c", "d"]);
    abort.abort();
    await shared.stop();
  });

  it("serves a watcher behind its window from the store, then from the window", async () => {
    const feed = new CountingFeed();
    for (let i = 0; i < 10; i++) feed.add(`old${i}`);
    const progress = new Progress();
    progress.index = 10;
    const shared = new SharedFeed(feed, { batch: 100, keep: 400, retryMs: 10 }, silent);
    shared.start(progress);
    const abort = new AbortController();
    const [late] = watchers(shared, 1, 5, 6, abort.signal);
    await settle();
    progress.advance(feed.add("new"));
    expect(await late).toEqual(["old5", "old6", "old7", "old8", "old9", "new"]);
    abort.abort();
    await shared.stop();
  });

  it("keeps watchers in place through a store outage and gives them every change after it, without a gap", async () => {
    const feed = new CountingFeed();
    const progress = new Progress();
    const shared = new SharedFeed(feed, { batch: 100, keep: 400, retryMs: 10 }, silent);
    shared.start(progress);
    const abort = new AbortController();
    const all = watchers(shared, 5, undefined, 2, abort.signal);
    await settle();
    feed.down = true;
    progress.advance(feed.add("during"));
    await settle();
    feed.down = false;
    progress.advance(feed.add("after"));
    expect(await Promise.all(all)).toEqual(Array.from({ length: 5 }, () => ["during", "after"]));
    abort.abort();
    await shared.stop();
  });
});
