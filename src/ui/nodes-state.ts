import { useCallback, useEffect, useRef, useState } from "react";
import type { Node } from "../../gen/proto/capstan/v1/node_pb.js";
import type { Api } from "./api.js";
import { useLiveEvents } from "./live.js";

/** Every node, read once and then kept current from the `nodes` events (no refetch per heartbeat). */
export function useLiveNodes(api: Api): { nodes: Node[] | undefined; error: unknown } {
  const [nodes, setNodes] = useState<Map<string, Node>>();
  const [error, setError] = useState<unknown>();
  // An event that arrives while the list is being read may be older or newer than the list:
  // rather than guess, the list is read again once it is in (a few times at most).
  const loading = useRef(false);
  const missed = useRef(false);
  const load = useCallback(() => {
    loading.current = true;
    void (async () => {
      for (let tries = 0; tries < 3; tries++) {
        missed.current = false;
        try {
          const all = new Map<string, Node>();
          let pageToken = "";
          do {
            const res = await api.nodes.listNodes({ pageSize: 500, pageToken });
            for (const n of res.nodes) all.set(n.id, n);
            pageToken = res.nextPageToken;
          } while (pageToken !== "");
          setNodes(all);
          setError(undefined);
        } catch (err) {
          setError(err);
        }
        if (!missed.current) break;
      }
      loading.current = false;
    })();
  }, [api]);
  useEffect(load, [load]);
  useLiveEvents(["nodes"], (ev) => {
    if (ev === "resync") return load();
    if (loading.current) {
      missed.current = true;
      return;
    }
    setNodes((prev) => {
      if (!prev) return prev;
      const next = new Map(prev);
      if (ev.type === "delete") next.delete(ev.key);
      else if (ev.payload.case === "node") next.set(ev.key, ev.payload.value);
      return next;
    });
  });
  return { nodes: nodes && [...nodes.values()], error };
}

/** Re-renders every few seconds, so "12s ago" stays true. */
export function useTick(ms = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
