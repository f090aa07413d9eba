import type { Replica as ReplicaRow } from "../../gen/prisma/sqlite/client.js";
import type { Replica } from "../model/replica.js";
import type { ServiceSpec } from "../model/service-spec.js";
import type { ServiceStore, StoredService } from "../model/service-store.js";
import type { DbClient } from "./db.js";
import { parseJson, toJson } from "./json.js";

/** ServiceStore on Prisma: specs as JSON text, replicas as rows. */
export class PrismaServiceStore implements ServiceStore {
  constructor(private readonly db: DbClient) {}

  async listServices(): Promise<StoredService[]> {
    const rows = await this.db.service.findMany({ orderBy: { name: "asc" } });
    return rows.map((r) => ({ id: r.id, spec: parseJson<ServiceSpec>(r.spec, {} as ServiceSpec), specHash: r.specHash, createdAt: r.createdAt, updatedAt: r.updatedAt }));
  }

  async saveService(s: StoredService): Promise<void> {
    const row = { name: s.spec.name, id: s.id, spec: toJson(s.spec), specHash: s.specHash, createdAt: s.createdAt, updatedAt: s.updatedAt };
    await this.db.service.upsert({ where: { name: row.name }, create: row, update: row });
  }

  async deleteService(name: string): Promise<void> {
    await this.db.service.deleteMany({ where: { name } });
  }

  async listReplicas(): Promise<Replica[]> {
    const rows: ReplicaRow[] = await this.db.replica.findMany({ orderBy: { createdAt: "asc" } });
    return rows.map((r) => ({ ...r, status: r.status as Replica["status"] }));
  }

  async saveReplica(r: Replica): Promise<void> {
    await this.db.replica.upsert({ where: { id: r.id }, create: r, update: r });
  }

  async deleteReplica(id: string): Promise<void> {
    await this.db.replica.deleteMany({ where: { id } });
  }
}
