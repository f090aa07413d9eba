import type { Node as Row } from "../../gen/prisma/sqlite/client.js";
import { emptyCapabilities, type Node, type NodeStatus } from "../domain/node.js";
import type { NodeStore } from "../domain/node-store.js";
import type { Db } from "./database.js";
import { parseJson, toJson } from "./json.js";

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
    metrics: n.metrics ? toJson(n.metrics) : null,
    lastHeartbeatAt: n.lastHeartbeatAt ?? null,
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
  };
}

function fromRow(r: Row): Node {
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
    metrics: r.metrics ? parseJson(r.metrics, undefined) : undefined,
    lastHeartbeatAt: r.lastHeartbeatAt ?? undefined,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

const FLUSH_BATCH = 500;

/** NodeStore on Prisma. */
export class PrismaNodeStore implements NodeStore {
  constructor(private readonly db: Db) {}

  async listAll(): Promise<Node[]> {
    return (await this.db.node.findMany({ orderBy: { id: "asc" } })).map(fromRow);
  }

  async upsert(node: Node): Promise<void> {
    const row = toRow(node);
    await this.db.node.upsert({ where: { id: node.id }, create: row, update: row });
  }

  async insert(node: Node): Promise<void> {
    await this.db.node.create({ data: toRow(node) });
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.node.deleteMany({ where: { id } })).count > 0;
  }

  async setStatus(id: string, status: NodeStatus, at: Date): Promise<void> {
    await this.db.node.updateMany({ where: { id }, data: { status, updatedAt: at } });
  }

  /**
   * One transaction per 500 nodes: one commit instead of one per node, and a
   * bounded batch, so a fleet of ten thousand does not build one huge transaction.
   */
  async flushHeartbeats(entries: ReadonlyArray<Pick<Node, "id" | "lastHeartbeatAt" | "metrics">>): Promise<void> {
    for (let i = 0; i < entries.length; i += FLUSH_BATCH) {
      await this.db.$transaction(
        entries.slice(i, i + FLUSH_BATCH).map((e) =>
          this.db.node.updateMany({
            where: { id: e.id },
            data: { lastHeartbeatAt: e.lastHeartbeatAt ?? null, metrics: e.metrics ? toJson(e.metrics) : null },
          }),
        ),
      );
    }
  }
}
