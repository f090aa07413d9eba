import type { Event } from "../../gen/proto/capstan/v1/event_service_pb.js";
import type { Node } from "../../gen/proto/capstan/v1/node_pb.js";

/**
 * The nodes after `events` (of the `nodes` topic, in the order they came),
 * as a new map. Each event carries its node's whole state or its deletion,
 * and events come in change order, so applying in order gives every node its
 * last word whether an event is older or newer than the list it is applied to.
 */
export function withEvents(nodes: ReadonlyMap<string, Node>, events: readonly Event[]): Map<string, Node> {
  const next = new Map(nodes);
  for (const ev of events) {
    if (ev.type === "delete") next.delete(ev.key);
    else if (ev.payload.case === "node") next.set(ev.key, ev.payload.value);
  }
  return next;
}
