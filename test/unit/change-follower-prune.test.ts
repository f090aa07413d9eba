import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChangeFollower, type FollowedViews } from "../../src/managers/change-follower.js";
import type { ChangeFeed } from "../../src/model/change-feed.js";

/** A feed with nothing in it that counts the prunes asked of it. */
function countingFeed(): ChangeFeed & { prunes: number } {
  const feed = {
    prunes: 0,
    head: async () => 0,
    after: async () => [],
    load: async () => [],
    oldest: async () => 0,
    prune: async () => {
      feed.prunes++;
      return 0;
    },
    listen: async () => async () => {},
    onCommitted: () => () => {},
  };
  return feed;
}

describe("pruning the change feed", () => {
  afterEach(() => void vi.useRealTimers());

  it("only the replica that leads prunes, once a minute; a follower that becomes leader starts pruning", async () => {
    vi.useFakeTimers();
    let leads = false;
    const feed = countingFeed();
    const views = {} as FollowedViews;
    const options = { origin: "b", sweepMs: 3_600_000, retentionMs: 3_600_000, onLost: () => {} };
    const follower = new ChangeFollower(feed, views, { ...options, prunes: () => leads }, pino({ level: "silent" }));
    await follower.start(0);
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    expect(feed.prunes).toBe(0);
    leads = true;
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(feed.prunes).toBe(2);
    await follower.stop();
  });
});
