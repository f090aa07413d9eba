import type { AgentFact, DecisionFact } from "../model/change-facts.js";
import type { Change, ChangeEntity, ChangeFeed, LoadedChange } from "../model/change-feed.js";
import type { Db } from "./db.js";
import { deploymentFromRow } from "./deployment-repository.js";
import { jobFromRow } from "./job-repository.js";
import { nodeFromRow } from "./node-repository.js";
import { replicaFromRow, serviceFromRow } from "./service-repository.js";
import { tokenFromRow } from "./token-repository.js";

/** Starts listening for other processes' commits; resolves to stop. */
export type Listener = (wake: () => void) => Promise<() => Promise<void>>;

/**
 * The change feed on Prisma: reads change rows in seq order and loads the
 * current state of what they name, one query per kind of thing per batch.
 */
export class PrismaChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<(changes: readonly Change[]) => void>();

  constructor(
    private readonly db: Db,
    private readonly listener: Listener | undefined,
  ) {}

  async head(): Promise<number> {
    const row = await this.db.changeCounter.findUnique({ where: { id: 1 } });
    return Number(row?.seq ?? 0);
  }

  async oldest(): Promise<number> {
    const row = await this.db.change.findFirst({ orderBy: { seq: "asc" }, select: { seq: true } });
    return Number(row?.seq ?? 0);
  }

  async prune(before: Date): Promise<number> {
    return (await this.db.change.deleteMany({ where: { createdAt: { lt: before } } })).count;
  }

  async after(seq: number, limit: number): Promise<LoadedChange[]> {
    const rows = await this.db.change.findMany({ where: { seq: { gt: BigInt(seq) } }, orderBy: { seq: "asc" }, take: limit });
    const changes: Change[] = rows.map((r) => ({ seq: Number(r.seq), entity: r.entity as ChangeEntity, key: r.key, op: r.op as Change["op"], origin: r.origin, data: r.data ?? undefined }));
    return this.load(changes);
  }

  listen(wake: () => void): Promise<() => Promise<void>> {
    return this.listener ? this.listener(wake) : Promise.resolve(async () => {});
  }

  onCommitted(listener: (changes: readonly Change[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called by the database after each commit of this process's writes. */
  committed(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) listener(changes);
  }

  async load(changes: readonly Change[]): Promise<LoadedChange[]> {
    const keys = (entity: ChangeEntity) => [...new Set(changes.filter((c) => c.entity === entity).flatMap((c) => (entity === "heartbeats" ? c.key.split(",") : [c.key])))];
    const nodeIds = [...new Set([...keys("node"), ...keys("heartbeats")])];
    const [nodes, jobs, deployments, services, replicas, tokens, targets] = await Promise.all([
      byKey(nodeIds, (ids) => this.db.node.findMany({ where: { id: { in: ids } } }), (r) => r.id, nodeFromRow),
      byKey(keys("job"), (ids) => this.db.job.findMany({ where: { id: { in: ids } } }), (r) => r.id, jobFromRow),
      byKey(keys("deployment"), (ids) => this.db.deployment.findMany({ where: { id: { in: ids } } }), (r) => r.id, deploymentFromRow),
      byKey(keys("service"), (ids) => this.db.service.findMany({ where: { name: { in: ids } } }), (r) => r.name, serviceFromRow),
      byKey(keys("replica"), (ids) => this.db.replica.findMany({ where: { id: { in: ids } } }), (r) => r.id, replicaFromRow),
      byKey(keys("token"), (ids) => this.db.apiToken.findMany({ where: { id: { in: ids } } }), (r) => r.id, tokenFromRow),
      byKey(keys("chunk_target"), (ids) => this.db.chunkTarget.findMany({ where: { chunkId: { in: ids } } }), (r) => r.chunkId, (r) => r.factor),
    ]);
    return changes.map((c): LoadedChange => {
      switch (c.entity) {
        case "node":
          return { ...c, entity: "node", node: nodes.get(c.key) };
        case "heartbeats":
          return { ...c, entity: "heartbeats", nodes: c.key.split(",").flatMap((id) => nodes.get(id) ?? []) };
        case "job":
          return { ...c, entity: "job", job: jobs.get(c.key) };
        case "deployment":
          return { ...c, entity: "deployment", deployment: deployments.get(c.key) };
        case "service":
          return { ...c, entity: "service", service: services.get(c.key) };
        case "replica":
          return { ...c, entity: "replica", replica: replicas.get(c.key) };
        case "token":
          return { ...c, entity: "token", token: tokens.get(c.key) };
        case "chunk_target":
          return { ...c, entity: "chunk_target", factor: targets.get(c.key) ?? 0 };
        case "agent":
          return { ...c, entity: "agent", agent: parseFact<AgentFact>(c.data) };
        case "decision":
          return { ...c, entity: "decision", decision: parseFact<DecisionFact>(c.data) };
      }
    });
  }
}

/** A fact row's fact; undefined when the row has none (a reload of one's key from elsewhere). */
function parseFact<T>(data: string | undefined): T | undefined {
  return data === undefined ? undefined : (JSON.parse(data) as T);
}

/** Loads rows by key (in slices the database's parameter limits allow), converted, in a map. */
async function byKey<R, T>(keys: string[], find: (keys: string[]) => Promise<R[]>, keyOf: (row: R) => string, convert: (row: R) => T): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for (let i = 0; i < keys.length; i += 500) {
    for (const row of await find(keys.slice(i, i + 500))) out.set(keyOf(row), convert(row));
  }
  return out;
}
