import type { Task as TaskRow } from "../../gen/prisma/sqlite/client.js";
import type { Task, TaskFilter, TaskKind, TaskStatus, TaskStore } from "../model/task.js";
import type { DbClient } from "./db.js";

const fromRow = (r: TaskRow): Task => ({
  ...r,
  kind: r.kind as TaskKind,
  status: r.status as TaskStatus,
  scheduledAt: r.scheduledAt ?? undefined,
  finishedAt: r.finishedAt ?? undefined,
});

/** TaskStore on Prisma: one row per task. */
export class PrismaTaskStore implements TaskStore {
  constructor(private readonly db: DbClient) {}

  async save(t: Task): Promise<void> {
    const row = { ...t, scheduledAt: t.scheduledAt ?? null, finishedAt: t.finishedAt ?? null };
    await this.db.task.upsert({ where: { id: t.id }, create: row, update: row });
  }

  async get(id: string): Promise<Task | undefined> {
    const row = await this.db.task.findUnique({ where: { id } });
    return row ? fromRow(row) : undefined;
  }

  async list(f: TaskFilter): Promise<Task[]> {
    const rows = await this.db.task.findMany({
      where: {
        ...(f.serviceName ? { serviceName: f.serviceName } : {}),
        ...(f.kind ? { kind: f.kind } : {}),
        ...(f.unfinished ? { status: { in: ["pending", "running"] } } : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: f.limit,
    });
    return rows.map(fromRow);
  }

  async lastScheduled(serviceName: string): Promise<Date | undefined> {
    const row = await this.db.task.aggregate({ where: { serviceName, kind: "schedule" }, _max: { scheduledAt: true } });
    return row._max.scheduledAt ?? undefined;
  }

  async prune(serviceName: string, kind: TaskKind, keep: number): Promise<void> {
    const old = await this.db.task.findMany({
      where: { serviceName, kind, status: { notIn: ["pending", "running"] } },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      skip: keep,
      select: { id: true },
    });
    if (old.length > 0) await this.db.task.deleteMany({ where: { id: { in: old.map((o) => o.id) } } });
  }
}
