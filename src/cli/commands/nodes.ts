import type { Command } from "commander";
import { NodeEligibility, NodeSchema, NodeStatus, type Node } from "../../../gen/proto/capstan/v1/node_pb.js";
import { DeleteNodeResponseSchema, GetNodeMetricsHistoryResponseSchema, ListNodesResponseSchema, NodeService } from "../../../gen/proto/capstan/v1/node_service_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UsageError } from "../errors.js";
import { action, allPages, type Ctx, type Io } from "../kit.js";
import { parseDuration } from "./tokens.js";
import { age, details, enumName, labels, list, parseEnum, table, time } from "../output.js";

/** A node's state in one word or a few: online, offline, draining, ineligible, disconnected. */
export function nodeState(n: Node): string {
  const parts = [enumName(NodeStatus, n.status, "NODE_STATUS_")];
  if (n.draining) parts.push("draining");
  else if (n.eligibility === NodeEligibility.INELIGIBLE) parts.push("ineligible");
  return parts.join(",");
}

/** The load column: 1-minute load average and CPU use, as the agent reports them. */
export function nodeLoad(n: Node): string {
  const m = n.metrics;
  if (!m) return "-";
  return `${m.load1.toFixed(2)} cpu ${Math.round(m.cpuUsage)}%`;
}

/** Finds a node by id or by name (names are what operators type). */
export async function resolveNodeId(ctx: Ctx, idOrName: string): Promise<string> {
  const client = (await ctx.clients()).of(NodeService);
  const { nodes } = await allPages((pageToken) => client.listNodes({ pageSize: 1000, pageToken }), (r) => r.nodes, (r, all) => (r.nodes = all));
  if (nodes.some((n) => n.id === idOrName)) return idOrName;
  const named = nodes.filter((n) => n.name === idOrName);
  if (named.length === 1) return named[0].id;
  if (named.length > 1) throw new UsageError(`node: "${idOrName}" names ${named.length} nodes; use an id (${named.map((n) => n.id).join(", ")})`);
  return idOrName; // let the server say it is not found
}

function showNode(ctx: Ctx, node: Node | undefined): void {
  if (!node) return;
  ctx.show(NodeSchema, node, () =>
    details([
      ["id", node.id],
      ["name", node.name],
      ["address", node.address],
      ["status", nodeState(node)],
      ["connected", String(node.connected)],
      ["labels", labels(node.labels)],
      ["tags", list(node.tags)],
      ["capabilities", node.capabilities ? `${node.capabilities.os}/${node.capabilities.arch} ${node.capabilities.cpuCount} cpu ${node.capabilities.memMb} MiB` : "-"],
      ["docker", node.capabilities?.docker?.available ? node.capabilities.docker.version || "yes" : "no"],
      ["load", nodeLoad(node)],
      ["chunks", String(node.chunkCount)],
      ["agent", node.agentVersion || "-"],
      ["last heartbeat", time(node.lastHeartbeat)],
      ["created", time(node.createTime)],
    ]),
  );
}

/** nodes, node get|history|drain|eligibility|rm. */
export function registerNodes(program: Command, io: Io): void {
  program
    .command("nodes")
    .description("list nodes with status, age, labels and load")
    .option("--status <status>", "only online or offline nodes")
    .option("-l, --selector <selector>", "label selector, e.g. zone=a")
    .option("--tag <tag>", "only nodes with this tag")
    .action(
      action(io, async (ctx, opts: { status?: string; selector?: string; tag?: string }) => {
        const status = opts.status ? parseEnum("--status", NodeStatus, "NODE_STATUS_", opts.status) : NodeStatus.UNSPECIFIED;
        const client = (await ctx.clients()).of(NodeService);
        const res = await allPages(
          (pageToken) => client.listNodes({ status, labelSelector: opts.selector ?? "", tag: opts.tag ?? "", pageSize: 1000, pageToken }),
          (r) => r.nodes,
          (r, all) => (r.nodes = all),
        );
        ctx.show(ListNodesResponseSchema, res, () =>
          table(res.nodes, [
            { header: "ID", value: (n) => n.id },
            { header: "NAME", value: (n) => n.name },
            { header: "STATUS", value: nodeState },
            { header: "CONNECTED", value: (n) => (n.connected ? "yes" : "no") },
            { header: "ADDRESS", value: (n) => n.address || "-" },
            { header: "AGE", value: (n) => age(n.createTime) },
            { header: "LOAD", value: nodeLoad },
            { header: "LABELS", value: (n) => labels(n.labels) },
          ]),
        );
      }),
    );

  const node = program.command("node").description("show or change one node");
  node
    .command("get")
    .description("show a node")
    .argument("<node>", "node id or name")
    .action(
      action(io, async (ctx, id: string) => {
        const nodeId = await resolveNodeId(ctx, id);
        showNode(ctx, (await (await ctx.clients()).of(NodeService).getNode({ nodeId })).node);
      }),
    );
  node
    .command("history")
    .description("a node's recent heartbeat metrics, oldest first (the server keeps HEARTBEAT_HISTORY of them)")
    .argument("<node>", "node id or name")
    .option("--since <duration>", "only the last part of the window, e.g. 2m or 30s")
    .action(
      action(io, async (ctx, id: string, opts: { since?: string }) => {
        const nodeId = await resolveNodeId(ctx, id);
        const since = opts.since === undefined ? undefined : timestampFromMs(Date.now() - parseDuration("--since", opts.since) * 1000);
        const res = await (await ctx.clients()).of(NodeService).getNodeMetricsHistory({ nodeId, since });
        ctx.show(GetNodeMetricsHistoryResponseSchema, res, () =>
          table(res.samples, [
            { header: "TIME", value: (s) => time(s.time) },
            { header: "CPU", value: (s) => `${s.cpuUsage.toFixed(1)}%` },
            { header: "MEM", value: (s) => `${s.memUsage.toFixed(1)}%` },
            { header: "LOAD1", value: (s) => s.load1.toFixed(2) },
            { header: "MEM USED", value: (s) => `${s.memoryUsedMb} MiB` },
            { header: "DISK FREE", value: (s) => `${s.diskFreeMb} MiB` },
            { header: "CONNS", value: (s) => String(s.activeConnections) },
          ]),
        );
      }),
    );
  node
    .command("drain")
    .description("move work off a node and place nothing new on it (--cancel ends the drain)")
    .argument("<node>", "node id or name")
    .option("--cancel", "end the drain: the node is eligible again")
    .action(
      action(io, async (ctx, id: string, opts: { cancel?: boolean }) => {
        const nodeId = await resolveNodeId(ctx, id);
        showNode(ctx, (await (await ctx.clients()).of(NodeService).drainNode({ nodeId, cancel: opts.cancel ?? false })).node);
      }),
    );
  node
    .command("eligibility")
    .description("mark a node eligible or ineligible for new placements")
    .argument("<node>", "node id or name")
    .argument("<eligibility>", "eligible or ineligible")
    .action(
      action(io, async (ctx, id: string, value: string) => {
        const eligibility = parseEnum("eligibility", NodeEligibility, "NODE_ELIGIBILITY_", value);
        const nodeId = await resolveNodeId(ctx, id);
        showNode(ctx, (await (await ctx.clients()).of(NodeService).setNodeEligibility({ nodeId, eligibility })).node);
      }),
    );
  node
    .command("rm")
    .description("remove a node from the cluster")
    .argument("<node>", "node id or name")
    .action(
      action(io, async (ctx, id: string) => {
        const nodeId = await resolveNodeId(ctx, id);
        const res = await (await ctx.clients()).of(NodeService).deleteNode({ nodeId });
        ctx.show(DeleteNodeResponseSchema, res, () => `node ${nodeId} removed\n`);
      }),
    );
}
