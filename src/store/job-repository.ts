import type { Job as Row, Prisma } from "../../gen/prisma/sqlite/client.js";
import type { CommandPayload, Job, JobStatus } from "../model/job.js";
import type { JobFilter, JobStore } from "../model/job-store.js";
import type { WriteScope } from "./change-log.js";
import { parseJson, toJson } from "./json.js";

function toRow(j: Job): Row {
  return {
    id: j.id,
    nodeId: j.nodeId,
    type: j.type,
    status: j.status,
    payload: toJson(j.payload),
    deploymentId: j.deploymentId,
    serviceName: j.serviceName,
    replicaId: j.replicaId,
    logs: j.logs,
    error: j.error,
    exitCode: j.exitCode,
    result: j.result ? toJson(j.result) : null,
    attempts: j.attempts,
    timeoutMs: j.timeoutMs,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    dispatchedAt: j.dispatchedAt ?? null,
    startedAt: j.startedAt ?? null,
    finishedAt: j.finishedAt ?? null,
    deadline: j.deadline ?? null,
  };
}

/** A stored row as a Job. */
export function jobFromRow(r: Row): Job {
  return {
    id: r.id,
    nodeId: r.nodeId,
    type: r.type as Job["type"],
    status: r.status as JobStatus,
    payload: parseJson<CommandPayload>(r.payload, { type: "health_check" }),
    deploymentId: r.deploymentId,
    serviceName: r.serviceName,
    replicaId: r.replicaId,
    logs: r.logs,
    error: r.error,
    exitCode: r.exitCode,
    result: r.result ? parseJson(r.result, undefined) : undefined,
    attempts: r.attempts,
    timeoutMs: r.timeoutMs,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    dispatchedAt: r.dispatchedAt ?? undefined,
    startedAt: r.startedAt ?? undefined,
    finishedAt: r.finishedAt ?? undefined,
    deadline: r.deadline ?? undefined,
  };
}

/** JobStore on Prisma. Ids are time-ordered, so (created_at, id) orders jobs stably. */
export class PrismaJobStore implements JobStore {
  constructor(private readonly scope: WriteScope) {}

  private get db() {
    return this.scope.db;
  }

  async create(job: Job): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.job.create({ data: toRow(job) });
      note("job", job.id, "put");
    });
  }

  /**
   * An upsert, as an update that inserts when no row matched: jobs are saved
   * many times after their creation, and through Prisma an update allocates
   * about half of what an upsert does (callers hold the job's lock, so nothing
   * inserts the row in between).
   */
  async save(job: Job): Promise<void> {
    const { id, ...fields } = toRow(job);
    await this.scope.write(async (db, note) => {
      const { count } = await db.job.updateMany({ where: { id }, data: fields });
      if (count === 0) await db.job.create({ data: { id, ...fields } });
      note("job", id, "put");
    });
  }

  async get(id: string): Promise<Job | undefined> {
    const row = await this.db.job.findUnique({ where: { id } });
    return row ? jobFromRow(row) : undefined;
  }

  async list(f: JobFilter): Promise<Job[]> {
    const where: Prisma.JobWhereInput = {
      ...(f.nodeId ? { nodeId: f.nodeId } : {}),
      ...(f.deploymentId ? { deploymentId: f.deploymentId } : {}),
      ...(f.serviceName ? { serviceName: f.serviceName } : {}),
      ...(f.replicaId ? { replicaId: f.replicaId } : {}),
      ...(f.statuses ? { status: { in: f.statuses } } : {}),
      ...(f.types ? { type: { in: f.types } } : {}),
    };
    if (f.cursor) {
      const op = f.newestFirst ? "lt" : "gt";
      where.OR = [
        { createdAt: { [op]: f.cursor.createdAt } },
        { createdAt: f.cursor.createdAt, id: { [op]: f.cursor.id } },
      ];
    }
    const order = f.newestFirst ? "desc" : "asc";
    const rows = await this.db.job.findMany({ where, orderBy: [{ createdAt: order }, { id: order }], take: f.limit });
    return rows.map(jobFromRow);
  }
}
