import { useCallback, useEffect, useRef, useState } from "react";
import type { Event } from "../../gen/proto/capstan/v1/event_service_pb.js";
import type { Node } from "../../gen/proto/capstan/v1/node_pb.js";
import type { Api } from "./api.js";
import { withEvents } from "./node-events.js";
import { useLiveEvents } from "./live.js";

/**
 * Every node, read once and then kept current from the `nodes` events (no
 * refetch per heartbeat). Events that arrive while the list is being read are
 * held and applied, in order, to the list once it is in: events come in
 * change order and each carries its node's whole state, so whichever of the
 * list and an event is newer, the last word on every node is right.
 */
export function useLiveNodes(api: Api): { nodes: Node[] | undefined; error: unknown } {
  const [nodes, setNodes] = useState<Map<string, Node>>();
  const [error, setError] = useState<unknown>();
  // Events held while a read is under way (undefined: none is).
  const held = useRef<Event[] | undefined>(undefined);
  const generation = useRef(0);
  const load = useCallback(() => {
    const mine = ++generation.current;
    held.current = [];
    void (async () => {
      try {
        const all = new Map<string, Node>();
        let pageToken = "";
        do {
          const res = await api.nodes.listNodes({ pageSize: 500, pageToken });
          for (const n of res.nodes) all.set(n.id, n);
          pageToken = res.nextPageToken;
        } while (pageToken !== "");
        // A newer read (after a resync) owns the held events.
        if (mine !== generation.current) return;
        const settled = withEvents(all, held.current ?? []);
        held.current = undefined;
        setNodes(settled);
        setError(undefined);
      } catch (err) {
        if (mine !== generation.current) return;
        held.current = undefined;
        setError(err);
      }
    })();
  }, [api]);
  useEffect(load, [load]);
  useLiveEvents(["nodes"], (ev) => {
    if (ev === "resync") return load();
    if (held.current) {
      held.current.push(ev);
      return;
    }
    setNodes((prev) => {
      if (!prev) return prev;
      return withEvents(prev, [ev]);
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
