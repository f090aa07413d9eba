import type { ChangeFeed, LoadedChange } from "../model/change-feed.js";
import { DomainError, FailedPreconditionError } from "../model/errors.js";
import { TOPICS, eventsOf, type ChangeEvent, type Topic } from "./topics.js";

/** What one watcher asked for. */
export interface WatchRequest {
  /** Empty: every topic the watcher may see. */
  topics: ReadonlySet<Topic>;
  /** Empty: every key. */
  keys: ReadonlySet<string>;
  /** Events after this index; undefined: from now on. */
  fromIndex: number | undefined;
}

/** One item of a watch: an event, or a heartbeat carrying the current index. */
export type WatchItem = ChangeEvent | { topic: "heartbeat"; type: "heartbeat"; index: number; key: "" };

/** Limits every watcher shares. */
export interface EventWatchOptions {
  /** A heartbeat after this long without an event. */
  heartbeatMs: number;
  /** A watcher further behind the feed's head than this many changes is cut off. */
  maxLag: number;
  /** Changes read from the store at a time (the most a watcher holds in memory). */
  batch: number;
}

/** Tells watchers that the feed may have grown, and how far. */
export interface FeedSignal {
  /** The highest seq known committed (this replica's writes at once, others' within a sweep). */
  head(): number;
  /**
   * Resolves at the next growth past `seen` (at once when the feed is past it
   * already), or after `ms`, or when `signal` aborts; true when it grew.
   */
  next(ms: number, signal: AbortSignal, seen: number): Promise<boolean>;
}

/**
 * Follows the change feed for one watcher: reads it in seq order from where
 * the watcher is, filters, and yields events; the watcher's own pace sets the
 * reads (pull, not push), so a slow watcher holds at most one batch and never
 * slows writers or other watchers. It is cut off when it falls `maxLag`
 * changes behind, and refused when its index is older than the feed keeps.
 *
 * Seqs have no holes (the feed takes them from one counter in the writing
 * transaction), so a jump past the watcher's next seq means pruned changes.
 */
export async function* watchEvents(
  feed: Pick<ChangeFeed, "head" | "after" | "oldest">,
  signal: FeedSignal,
  req: WatchRequest,
  allowed: ReadonlySet<Topic>,
  options: EventWatchOptions,
  abort: AbortSignal,
): AsyncGenerator<WatchItem> {
  const topics = req.topics.size ? req.topics : allowed;
  let last = req.fromIndex ?? (await feed.head());
  await checkKept(feed, last);
  // A heartbeat goes out after heartbeatMs without an event, busy feed or not: a
  // watcher whose filter matches nothing still learns the stream is alive.
  let sent = Date.now();
  const beat = (): WatchItem => {
    sent = Date.now();
    return { topic: "heartbeat", type: "heartbeat", index: last, key: "" };
  };
  // At once: the stream is open (an EventSource fires "open", curl shows it) and says where it starts.
  yield beat();
  while (!abort.aborted) {
    const changes: LoadedChange[] = await feed.after(last, options.batch);
    if (changes.length > 0) {
      if (changes[0].seq > last + 1) await checkKept(feed, last);
      for (const c of changes) {
        last = c.seq;
        for (const e of eventsOf(c)) {
          if (topics.has(e.topic) && allowed.has(e.topic) && (req.keys.size === 0 || req.keys.has(e.key))) {
            sent = Date.now();
            yield e;
          }
        }
      }
      if (Date.now() - sent >= options.heartbeatMs) yield beat();
      const behind = signal.head() - last;
      if (behind > options.maxLag) {
        throw new DomainError(
          "resource_exhausted",
          `this watcher fell ${behind} changes behind the feed (EVENTS_MAX_LAG is ${options.maxLag}): watch again from index ${last}`,
        );
      }
      continue;
    }
    const wait = Math.max(1, options.heartbeatMs - (Date.now() - sent));
    if (!(await signal.next(wait, abort, last)) && !abort.aborted && signal.head() <= last) yield beat();
  }
}

/** Refuses an index the feed no longer holds the changes after. */
async function checkKept(feed: Pick<ChangeFeed, "oldest">, index: number): Promise<void> {
  const oldest = await feed.oldest();
  if (oldest > 0 && index + 1 < oldest) {
    throw new FailedPreconditionError(
      `index ${index} is older than the oldest change kept (${oldest}): list again, and watch from the list's Capstan-Index`,
    );
  }
}

/** Parses requested topic names, naming a wrong one. */
export function parseTopics(names: readonly string[], field: string): Set<Topic> {
  const out = new Set<Topic>();
  names.forEach((name, i) => {
    if (!(TOPICS as readonly string[]).includes(name)) {
      throw new DomainError("invalid_argument", `${field}[${i}]: "${name}" is not a topic (${TOPICS.join(", ")})`, `${field}[${i}]`);
    }
    out.add(name as Topic);
  });
  return out;
}
