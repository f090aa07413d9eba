import type { Replica as ReplicaRow, Service as ServiceRow } from "../../gen/prisma/sqlite/client.js";
import type { Replica } from "../model/replica.js";
import type { ServiceSpec } from "../model/service-spec.js";
import type { ServiceStore, StoredService } from "../model/service-store.js";
import type { WriteScope } from "./change-log.js";
import { parseJson, toJson } from "./json.js";

/** A stored row as a StoredService. */
export function serviceFromRow(r: ServiceRow): StoredService {
  return { id: r.id, spec: parseJson<ServiceSpec>(r.spec, {} as ServiceSpec), specHash: r.specHash, createdAt: r.createdAt, updatedAt: r.updatedAt };
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
    const row = { name: s.spec.name, id: s.id, spec: toJson(s.spec), specHash: s.specHash, createdAt: s.createdAt, updatedAt: s.updatedAt };
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

  async deleteReplica(id: string): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.replica.deleteMany({ where: { id } });
      note("replica", id, "delete");
    });
  }
}
