import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AgentConnectionSchema, EventSchema, SchedulerDecisionSchema, type EventService, type Event as PbEvent } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { parseTopics, watchEvents, type EventWatchOptions, type FeedSignal, type WatchItem } from "../events/event-watch.js";
import { ADMIN_TOPICS, TOPICS, type Topic } from "../events/topics.js";
import type { ChangeFeed } from "../model/change-feed.js";
import { PermissionDeniedError } from "../model/errors.js";
import { scopeIncludes, type Principal } from "../model/principal.js";
import { principalKey } from "../rpc/context.js";
import { deploymentToProto } from "../rpc/deployment-convert.js";
import { jobToProto } from "../rpc/job-convert.js";
import { nodeToProto, ts } from "../rpc/node-convert.js";
import { replicaToProto, serviceSpecToProto } from "../rpc/service-convert.js";
import { tokenToProto } from "../rpc/token-convert.js";

/** What WatchEvents needs. */
export interface EventServiceDeps {
  feed: Pick<ChangeFeed, "head" | "after" | "oldest">;
  signal: FeedSignal;
  options: EventWatchOptions;
}

/** Whether a caller may see admin topics (tokens): admin operators, and dev mode on loopback. */
function seesAdminTopics(p: Principal): boolean {
  return (p.kind === "operator" && scopeIncludes(p.scope, "admin")) || p.kind === "dev";
}

/** EventService's handler: parse the request, follow the feed, encode each event. */
export function createEventService(deps: EventServiceDeps): ServiceImpl<typeof EventService> {
  return {
    async *watchEvents(req, ctx) {
      const requested = parseTopics(req.topics, "topics");
      const admin = seesAdminTopics(ctx.values.get(principalKey));
      const denied = [...requested].find((t) => ADMIN_TOPICS.has(t) && !admin);
      if (denied) throw new PermissionDeniedError(`topics: "${denied}" needs a token with the admin scope`);
      const allowed = new Set<Topic>(TOPICS.filter((t) => admin || !ADMIN_TOPICS.has(t)));
      const fromIndex = req.fromIndex === undefined ? undefined : Number(req.fromIndex);
      const request = { topics: requested, keys: new Set(req.keys), fromIndex };
      for await (const item of watchEvents(deps.feed, deps.signal, request, allowed, deps.options, ctx.signal)) {
        yield { event: eventToProto(item) };
      }
    },
  };
}

/** An event for the wire, with environment values left out. */
export function eventToProto(item: WatchItem): PbEvent {
  const event = create(EventSchema, { index: BigInt(item.index), topic: item.topic, type: item.type, key: item.key, time: ts(new Date()) });
  if (item.topic === "heartbeat") return event;
  const p = item.payload;
  switch (p.kind) {
    case "node":
      if (p.node) event.payload = { case: "node", value: nodeToProto(p.node) };
      break;
    case "job":
      if (p.job) event.payload = { case: "job", value: jobToProto(p.job) };
      break;
    case "deployment":
      if (p.deployment) event.payload = { case: "deployment", value: deploymentToProto(p.deployment) };
      break;
    case "service":
      if (p.service) {
        const spec = serviceSpecToProto(p.service.spec);
        // Environment values may be secrets: watchers see which variables are set, not their values.
        event.payload = { case: "service", value: { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((k) => [k, ""])) } };
      }
      break;
    case "replica":
      if (p.replica) event.payload = { case: "replica", value: replicaToProto(p.replica) };
      break;
    case "token":
      if (p.token) event.payload = { case: "token", value: tokenToProto(p.token) };
      break;
    case "chunk_target":
      event.payload = { case: "replicationFactor", value: p.factor };
      break;
    case "agent": {
      const a = p.agent;
      event.payload = { case: "agent", value: create(AgentConnectionSchema, { nodeId: a.nodeId, connected: a.connected, protocol: a.protocol, replica: a.replica, time: ts(new Date(a.at)) }) };
      break;
    }
    case "decision": {
      const d = p.decision;
      event.payload = {
        case: "decision",
        value: create(SchedulerDecisionSchema, {
          kind: d.kind, service: d.service, nodeId: d.nodeId ?? "", replicaId: d.replicaId ?? "", reason: d.reason, scoreTerms: d.scoreTerms ?? {},
          fromReplicas: d.from ?? 0, toReplicas: d.to ?? 0, metric: d.metric, time: ts(new Date(d.at)),
        }),
      };
      break;
    }
  }
  return event;
}
