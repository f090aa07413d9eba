import type { Event, WatchEventsResponse } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";

/** A watch in progress: every event received so far, and a way to wait for more. */
export interface Watch {
  /** Events received, heartbeats included, in order. */
  readonly seen: Event[];
  /** Resolves with the first event received (now or later) that `match` accepts after `from` (a position in `seen`); throws when the stream ends first or after timeoutMs. */
  until(match: (e: Event) => boolean, timeoutMs?: number, from?: number): Promise<Event>;
  /** How the stream ended (undefined while it goes on); its error if it failed. */
  ended(): { error: unknown } | undefined;
  stop(): void;
}

/** Follows a WatchEvents stream in the background, keeping what arrives. */
export function follow(open: (signal: AbortSignal) => AsyncIterable<WatchEventsResponse>): Watch {
  const abort = new AbortController();
  const seen: Event[] = [];
  const arrivals = new AsyncQueue<void>();
  let end: { error: unknown } | undefined;
  void (async () => {
    try {
      for await (const r of open(abort.signal)) {
        if (r.event) seen.push(r.event);
        arrivals.push();
      }
      end = { error: undefined };
    } catch (error) {
      end = { error };
    }
    arrivals.push();
  })();
  return {
    seen,
    ended: () => end,
    async until(match, timeoutMs = 20_000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = seen.slice(from).find(match);
        if (found) return found;
        if (end) throw new Error(`the stream ended before the event came: ${String(end.error)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no such event within ${timeoutMs} ms; seen: ${seen.map((e) => `${e.index} ${e.topic} ${e.type} ${e.key}`).join(", ")}`);
        await Promise.race([arrivals.next(), new Promise((r) => setTimeout(r, Math.min(left, 200)))]);
      }
    },
    stop: () => abort.abort(),
  };
}
