import type { Command } from "commander";
import { EventSchema, EventService, type Event } from "../../../gen/proto/capstan/v1/event_service_pb.js";
import { UsageError } from "../errors.js";
import { action, type Io } from "../kit.js";
import { messageJson, time } from "../output.js";

/** One event as a line for people: time, index, topic, what happened, to what, and (agents, decisions) how and why. */
function eventLine(e: Event): string {
  const line = `${time(e.time)}  ${String(e.index).padStart(6)}  ${e.topic.padEnd(19)}  ${e.type.padEnd(12)}  ${e.key}`;
  const more = detail(e);
  return `${more ? `${line}  ${more}` : line}\n`;
}

/** What an agent or decision event says beyond its key. */
function detail(e: Event): string {
  const p = e.payload;
  if (p.case === "agent") return `${p.value.protocol} via ${p.value.replica}`;
  if (p.case !== "decision") return "";
  const d = p.value;
  if (d.kind === "placed") {
    const terms = Object.entries(d.scoreTerms).map(([k, v]) => `${k}=${v}`).join(" ");
    return `${d.replicaId} on ${d.nodeId}: ${d.reason}${terms ? ` (${terms})` : ""}`;
  }
  if (d.kind === "scaled") return `${d.fromReplicas} → ${d.toReplicas}: ${d.reason}`;
  return d.reason;
}

/** events: follows WatchEvents until interrupted. */
export function registerEvents(program: Command, io: Io): void {
  program
    .command("events")
    .description("follow what changes (nodes, agents, jobs, services, scheduler decisions, ...) as it happens, until interrupted")
    .option("-f, --follow", "follow (the default; accepted as kubectl and nomad users type it)")
    .option("--topic <topic...>", "only these topics: nodes, agents, jobs, chunk_commands, deployments, services, replicas, scheduler_decisions, tokens (admin), chunk_targets")
    .option("--id <id...>", "only events about these ids (node, job, deployment, replica ids, service names)")
    .option("--from <index>", "start after this index (0: every change the server keeps); default: from now on")
    .action(
      action(io, async (ctx, opts: { topic?: string[]; id?: string[]; from?: string }) => {
        if (opts.from !== undefined && !/^\d+$/.test(opts.from)) throw new UsageError(`--from: "${opts.from}" is not an index (a whole number)`);
        const client = (await ctx.clients()).of(EventService);
        const request = { topics: opts.topic ?? [], keys: opts.id ?? [], fromIndex: opts.from === undefined ? undefined : BigInt(opts.from) };
        for await (const r of client.watchEvents(request)) {
          const e = r.event;
          if (!e || e.topic === "heartbeat") continue;
          // -o json: one JSON object per line, as the API writes each event.
          if (ctx.format === "json") ctx.io.out(`${JSON.stringify(messageJson(EventSchema, e))}\n`);
          else if (ctx.format === "yaml") ctx.showValue(messageJson(EventSchema, e), () => "");
          else ctx.io.out(eventLine(e));
        }
      }),
    );
}
