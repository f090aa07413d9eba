import type { Replica as ReplicaRow, Service as ServiceRow } from "../../gen/prisma/sqlite/client.js";
import type { Replica } from "../model/replica.js";
import type { ServiceSpec } from "../model/service-spec.js";
import type { ScaleRecord, ServiceStore, StoredService } from "../model/service-store.js";
import type { WriteScope } from "./change-log.js";
import { parseJson, toJson } from "./json.js";

/** The spec JSON's key for the autoscaler's last change. */
const LAST_SCALE = "_lastScale";

/** ScaleRecord as JSON: the time as text, absent numbers as null. */
type StoredScale = Omit<ScaleRecord, "at" | "metric" | "threshold" | "source"> & { at: string; metric?: number | null; threshold?: number | null; source?: ScaleRecord["source"] | null };

/** A stored row as a StoredService; the autoscaler's last change rides in the spec's JSON under a key of its own (no column, no migration). */
export function serviceFromRow(r: ServiceRow): StoredService {
  const { [LAST_SCALE]: last, ...spec } = parseJson<ServiceSpec & { [LAST_SCALE]?: StoredScale }>(r.spec, {} as ServiceSpec);
  const lastScale = last ? { ...last, at: new Date(last.at), metric: last.metric ?? undefined, threshold: last.threshold ?? undefined, source: last.source ?? undefined } : undefined;
  return { id: r.id, spec: spec as ServiceSpec, specHash: r.specHash, createdAt: r.createdAt, updatedAt: r.updatedAt, ...(lastScale ? { lastScale } : {}) };
}

/** A stored row as a Replica. */
export function replicaFromRow(r: ReplicaRow): Replica {
  return { ...r, status: r.status as Replica["status"] };
}

/** ServiceStore on Prisma: specs as JSON text, replicas as rows. */
export class PrismaServiceStore implements ServiceStore {
  constructor(private readonly scope: WriteScope) {}

  private get db() {
    return this.scope.db;
  }

  async listServices(): Promise<StoredService[]> {
    const rows = await this.db.service.findMany({ orderBy: { name: "asc" } });
    return rows.map(serviceFromRow);
  }

  async saveService(s: StoredService): Promise<void> {
    const spec = s.lastScale ? { ...s.spec, [LAST_SCALE]: { ...s.lastScale, at: s.lastScale.at.toISOString() } } : s.spec;
    const row = { name: s.spec.name, id: s.id, spec: toJson(spec), specHash: s.specHash, createdAt: s.createdAt, updatedAt: s.updatedAt };
    await this.scope.write(async (db, note) => {
      await db.service.upsert({ where: { name: row.name }, create: row, update: row });
      note("service", row.name, "put");
    });
  }

  async deleteService(name: string): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.service.deleteMany({ where: { name } });
      note("service", name, "delete");
    });
  }

  async listReplicas(): Promise<Replica[]> {
    const rows: ReplicaRow[] = await this.db.replica.findMany({ orderBy: { createdAt: "asc" } });
    return rows.map(replicaFromRow);
  }

  async saveReplica(r: Replica): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.replica.upsert({ where: { id: r.id }, create: r, update: r });
      note("replica", r.id, "put");
    });
  }

  async updateReplicaStatus(id: string, from: Replica["status"], to: Replica["status"], at: Date): Promise<boolean> {
    return this.scope.write(async (db, note) => {
      const { count } = await db.replica.updateMany({ where: { id, status: from }, data: { status: to, updatedAt: at } });
      if (count > 0) note("replica", id, "put");
      return count > 0;
    });
  }

  async deleteReplica(id: string): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.replica.deleteMany({ where: { id } });
      note("replica", id, "delete");
    });
  }
}
