import { Code, ConnectError } from "@connectrpc/connect";
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { Event } from "../../gen/proto/capstan/v1/event_service_pb.js";
import type { Api } from "./api.js";

type Listener = { topics: ReadonlySet<string>; fn: (ev: Event | "resync") => void };

/** The page session's one event stream, shared by every page. */
export interface LiveFeed {
  /** Calls fn for each event of the topics, and with "resync" when events may have been missed. Returns the unsubscribe. */
  subscribe(topics: readonly string[], fn: (ev: Event | "resync") => void): () => void;
  /** "live" while the stream is open, "reconnecting" after a drop. */
  readonly status: "connecting" | "live" | "reconnecting";
  onStatus(fn: () => void): () => void;
  close(): void;
}

/**
 * Follows EventService.WatchEvents for the whole page session: one stream,
 * every topic the token may see. After a drop it resumes from the last index
 * it saw (the server replays what was missed); if that index is older than the
 * server keeps (FailedPrecondition), every list refetches instead ("resync").
 */
export function startLiveFeed(api: Api): LiveFeed {
  const listeners = new Set<Listener>();
  const statusListeners = new Set<() => void>();
  const abort = new AbortController();
  let last: bigint | undefined;
  let status: LiveFeed["status"] = "connecting";
  const setStatus = (s: LiveFeed["status"]) => {
    if (s === status) return;
    status = s;
    for (const fn of statusListeners) fn();
  };
  const emit = (ev: Event | "resync") => {
    for (const l of listeners) if (ev === "resync" || l.topics.has(ev.topic)) l.fn(ev);
  };
  void (async () => {
    let delay = 500;
    while (!abort.signal.aborted) {
      try {
        for await (const res of api.events.watchEvents({ fromIndex: last }, { signal: abort.signal })) {
          setStatus("live");
          delay = 500;
          const ev = res.event;
          if (!ev) continue;
          last = ev.index;
          if (ev.topic !== "heartbeat") emit(ev);
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof ConnectError && err.code === Code.FailedPrecondition) {
          // Too far behind: start from now, and let every list read the current state.
          last = undefined;
          emit("resync");
        }
      }
      setStatus("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();
  return {
    subscribe(topics, fn) {
      const l = { topics: new Set(topics), fn };
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    get status() {
      return status;
    },
    onStatus(fn) {
      statusListeners.add(fn);
      return () => void statusListeners.delete(fn);
    },
    close: () => abort.abort(),
  };
}

/** The page session's feed. */
export const LiveContext = createContext<LiveFeed | null>(null);

/** Calls fn for each event of the topics while the component is mounted. */
export function useLiveEvents(topics: readonly string[], fn: (ev: Event | "resync") => void): void {
  const feed = useContext(LiveContext);
  const ref = useRef(fn);
  ref.current = fn;
  const key = topics.join(",");
  useEffect(() => feed?.subscribe(key.split(","), (ev) => ref.current(ev)), [feed, key]);
}

/**
 * The feed's status, re-rendering when it changes (useSyncExternalStore: a change between
 * the first render and the subscription is not missed).
 */
export function useLiveStatus(): LiveFeed["status"] {
  const feed = useContext(LiveContext);
  const subscribe = useCallback((fn: () => void) => feed?.onStatus(fn) ?? (() => undefined), [feed]);
  return useSyncExternalStore(subscribe, () => feed?.status ?? "connecting");
}

/** A fetched value that refetches when an event of its topics arrives (coalesced). */
export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  reload(): void;
}

/**
 * Loads fetch() on mount and whenever deps change, and again after events of
 * the topics: a burst of events makes one refetch, not one each.
 */
export function useLiveQuery<T>(fetch: () => Promise<T>, topics: readonly string[], deps: readonly unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown }>({});
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const seq = useRef(0);
  const load = useCallback(() => {
    const mine = ++seq.current;
    fetchRef.current().then(
      (data) => mine === seq.current && setState({ data }),
      (error: unknown) => mine === seq.current && setState((s) => ({ data: s.data, error })),
    );
  }, []);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(load, deps);
  useEffect(() => () => clearTimeout(pending.current), []);
  useLiveEvents(topics, () => {
    if (pending.current !== undefined) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      load();
    }, 200);
  });
  return { data: state.data, error: state.error, reload: load };
}
