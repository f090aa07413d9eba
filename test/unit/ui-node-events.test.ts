import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema, type Event } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { NodeSchema, NodeStatus, type Node } from "../../gen/proto/capstan/v1/node_pb.js";
import { withEvents } from "../../src/ui/node-events.js";

const node = (id: string, status: "online" | "offline"): Node => create(NodeSchema, { id, name: id, status: status === "online" ? NodeStatus.ONLINE : NodeStatus.OFFLINE });
const put = (index: number, n: Node): Event => create(EventSchema, { index: BigInt(index), topic: "nodes", type: "put", key: n.id, payload: { case: "node", value: n } });
const del = (index: number, id: string): Event => create(EventSchema, { index: BigInt(index), topic: "nodes", type: "delete", key: id });
const statuses = (m: Map<string, Node>) => Object.fromEntries([...m].map(([id, n]) => [id, n.status === NodeStatus.ONLINE ? "online" : "offline"]));

// The dashboard holds the nodes events that arrive while it reads the list, then applies them in order to the list.
describe("node events applied to a list read while they arrived", () => {
  const list = new Map([["n1", node("n1", "offline")]]);
  it.each([
    { name: "an event newer than the list wins", events: [put(7, node("n1", "online"))], want: { n1: "online" } },
    { name: "an event the list already reflects, then the newer one, ends at the newer", events: [put(5, node("n1", "online")), put(6, node("n1", "offline"))], want: { n1: "offline" } },
    { name: "a node created while the list was read is added", events: [put(8, node("n2", "online"))], want: { n1: "offline", n2: "online" } },
    { name: "a deletion removes the node", events: [del(9, "n1")], want: {} },
    { name: "a node created and deleted meanwhile is not there", events: [put(8, node("n2", "online")), del(9, "n2")], want: { n1: "offline" } },
    { name: "a deletion of a node the list never had is nothing", events: [del(9, "n3")], want: { n1: "offline" } },
  ])("$name", ({ events, want }) => {
    expect(statuses(withEvents(list, events))).toEqual(want);
    // The list read is left as it was (React state is never mutated).
    expect(statuses(list)).toEqual({ n1: "offline" });
  });
});
