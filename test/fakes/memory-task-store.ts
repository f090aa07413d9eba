import type { Task, TaskFilter, TaskKind, TaskStore } from "../../src/model/task.js";

const newestFirst = (a: Task, b: Task) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1);

/** An in-memory TaskStore, in the Prisma store's order (newest first). */
export class MemoryTaskStore implements TaskStore {
  readonly rows = new Map<string, Task>();

  async save(t: Task): Promise<void> {
    this.rows.set(t.id, structuredClone(t));
  }

  async get(id: string): Promise<Task | undefined> {
    const t = this.rows.get(id);
    return t && structuredClone(t);
  }

  async list(f: TaskFilter): Promise<Task[]> {
    return [...this.rows.values()]
      .filter((t) => (!f.serviceName || t.serviceName === f.serviceName) && (!f.kind || t.kind === f.kind))
      .filter((t) => !f.unfinished || t.status === "pending" || t.status === "running")
      .sort(newestFirst)
      .slice(0, f.limit)
      .map((t) => structuredClone(t));
  }

  async lastScheduled(serviceName: string): Promise<Date | undefined> {
    let last: Date | undefined;
    for (const t of this.rows.values()) {
      if (t.serviceName === serviceName && t.kind === "schedule" && t.scheduledAt && (!last || t.scheduledAt > last)) last = t.scheduledAt;
    }
    return last;
  }

  async prune(serviceName: string, kind: TaskKind, keep: number): Promise<void> {
    const done = [...this.rows.values()].filter((t) => t.serviceName === serviceName && t.kind === kind && t.status !== "pending" && t.status !== "running").sort(newestFirst);
    for (const t of done.slice(keep)) this.rows.delete(t.id);
  }
}
