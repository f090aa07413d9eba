import type { Node as Row } from "../../gen/prisma/sqlite/client.js";
import { emptyCapabilities, type Node, type NodeStatus } from "../model/node.js";
import type { NodeStore } from "../model/node-store.js";
import { Prisma } from "../../gen/prisma/sqlite/client.js";
import type { WriteScope } from "./change-log.js";
import type { Provider } from "./providers.js";
import { parseJson, toJson } from "./json.js";
import { jsonRows } from "./json-rows.js";

function toRow(n: Node): Row {
  return {
    id: n.id,
    name: n.name,
    address: n.address,
    labels: toJson(n.labels),
    tags: toJson(n.tags),
    capabilities: toJson(n.capabilities),
    ports: toJson(n.ports),
    status: n.status,
    eligibility: n.eligibility,
    draining: n.draining,
    agentVersion: n.agentVersion,
    tokenHash: n.tokenHash,
    anonymous: n.anonymous,
    agentKind: n.agentKind,
    metrics: n.metrics ? toJson(n.metrics) : null,
    lastHeartbeatAt: n.lastHeartbeatAt ?? null,
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
  };
}

/** A stored row as a Node. */
export function nodeFromRow(r: Row): Node {
  return {
    id: r.id,
    name: r.name,
    address: r.address,
    labels: parseJson(r.labels, {}),
    tags: parseJson(r.tags, []),
    capabilities: { ...emptyCapabilities(), ...parseJson(r.capabilities, {}) },
    ports: parseJson(r.ports, {}),
    status: r.status as NodeStatus,
    eligibility: r.eligibility as Node["eligibility"],
    draining: r.draining,
    agentVersion: r.agentVersion,
    tokenHash: r.tokenHash,
    anonymous: r.anonymous,
    agentKind: r.agentKind as Node["agentKind"],
    metrics: r.metrics ? parseJson(r.metrics, undefined) : undefined,
    lastHeartbeatAt: r.lastHeartbeatAt ?? undefined,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

const FLUSH_BATCH = 500;

/** One UPDATE of many nodes' last heartbeat and metrics, the rows bound as one JSON parameter (json-rows.ts says why). */
function heartbeatUpdate(provider: Provider, batch: ReadonlyArray<Pick<Node, "id" | "lastHeartbeatAt" | "metrics">>): Prisma.Sql {
  const rows = jsonRows(
    provider,
    [["id", "text"], ["at", "timestamp"], ["metrics", "text"]],
    batch.map((e) => [e.id, e.lastHeartbeatAt ?? null, e.metrics ? toJson(e.metrics) : null]),
  );
  return Prisma.sql`UPDATE nodes SET last_heartbeat_at = v.at, metrics = v.metrics FROM ${rows} AS v WHERE nodes.id = v.id`;
}

/** NodeStore on Prisma. */
export class PrismaNodeStore implements NodeStore {
  constructor(
    private readonly scope: WriteScope,
    private readonly provider: Provider,
  ) {}

  private get db() {
    return this.scope.db;
  }

  async listAll(): Promise<Node[]> {
    return (await this.db.node.findMany({ orderBy: { id: "asc" } })).map(nodeFromRow);
  }

  async upsert(node: Node): Promise<void> {
    const row = toRow(node);
    await this.scope.write(async (db, note) => {
      await db.node.upsert({ where: { id: node.id }, create: row, update: row });
      note("node", node.id, "put");
    });
  }

  /**
   * One INSERT written as SQL. Through the query builder, a 16-column insert
   * allocates about three times as much (per-field parameterisation, plan
   * interpretation), and with a fleet registering at once that garbage set
   * the server's peak memory. Values are bound parameters, and the driver
   * adapter converts dates and booleans as it does for the builder's own
   * writes (SQLite: ISO text and 0/1; PostgreSQL: UTC TIMESTAMP(3)), so the
   * row reads back the same either way.
   */
  async insert(node: Node): Promise<void> {
    const r = toRow(node);
    await this.scope.write(async (db, note) => {
      note("node", node.id, "put");
      await db.$executeRaw`INSERT INTO nodes (id, name, address, labels, tags, capabilities, ports, status, eligibility, draining,
      agent_version, token_hash, anonymous, agent_kind, metrics, last_heartbeat_at, created_at, updated_at)
      VALUES (${r.id}, ${r.name}, ${r.address}, ${r.labels}, ${r.tags}, ${r.capabilities}, ${r.ports}, ${r.status}, ${r.eligibility},
      ${r.draining}, ${r.agentVersion}, ${r.tokenHash}, ${r.anonymous}, ${r.agentKind}, ${r.metrics}, ${r.lastHeartbeatAt}, ${r.createdAt}, ${r.updatedAt})`;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.scope.write(async (db, note) => {
      note("node", id, "delete");
      return (await db.node.deleteMany({ where: { id } })).count > 0;
    });
  }

  async setStatus(id: string, status: NodeStatus, at: Date, heartbeat?: Pick<Node, "lastHeartbeatAt" | "metrics">): Promise<void> {
    const seen = heartbeat && { lastHeartbeatAt: heartbeat.lastHeartbeatAt ?? null, metrics: heartbeat.metrics ? toJson(heartbeat.metrics) : null };
    await this.scope.write(async (db, note) => {
      note("node", id, "put");
      await db.node.updateMany({ where: { id }, data: { status, updatedAt: at, ...seen } });
    });
  }

  /**
   * One transaction and one statement per 500 nodes: one commit instead of one
   * per node, and a bounded batch, so a fleet of ten thousand does not build
   * one huge transaction. A node deleted meanwhile is simply not updated.
   */
  async flushHeartbeats(entries: ReadonlyArray<Pick<Node, "id" | "lastHeartbeatAt" | "metrics">>): Promise<void> {
    for (let i = 0; i < entries.length; i += FLUSH_BATCH) {
      const batch = entries.slice(i, i + FLUSH_BATCH);
      await this.scope.write(async (db, note) => {
        await db.$executeRaw(heartbeatUpdate(this.provider, batch));
        // One change row per batch, not per heartbeat: other replicas load the batch's nodes.
        note("heartbeats", batch.map((e) => e.id).join(","), "put");
      });
    }
  }
}
