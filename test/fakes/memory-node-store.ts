import type { Node, NodeStatus } from "../../src/model/node.js";
import type { NodeStore } from "../../src/model/node-store.js";

/**
 * An in-memory NodeStore for unit tests of the domain. It records every call
 * so tests can assert what reached "the database", and can be told to fail.
 */
export class MemoryNodeStore implements NodeStore {
  readonly rows = new Map<string, Node>();
  readonly calls: string[] = [];
  failNext: Error | undefined;

  async listAll(): Promise<Node[]> {
    this.check("listAll");
    return [...this.rows.values()].map((n) => structuredClone(n));
  }

  async upsert(node: Node): Promise<void> {
    this.check("upsert");
    this.rows.set(node.id, structuredClone(node));
  }

  async insert(node: Node): Promise<void> {
    this.check("insert");
    if (this.rows.has(node.id)) throw new Error(`node ${node.id} is already stored`);
    this.rows.set(node.id, structuredClone(node));
  }

  async delete(id: string): Promise<boolean> {
    this.check("delete");
    return this.rows.delete(id);
  }

  async setStatus(id: string, status: NodeStatus, at: Date, heartbeat?: Pick<Node, "lastHeartbeatAt" | "metrics">): Promise<void> {
    this.check(`setStatus:${id}:${status}`);
    const row = this.rows.get(id);
    if (row) this.rows.set(id, { ...row, status, updatedAt: at, ...heartbeat });
  }

  async flushHeartbeats(entries: ReadonlyArray<Pick<Node, "id" | "lastHeartbeatAt" | "metrics">>): Promise<void> {
    this.check(`flush:${entries.length}`);
    for (const e of entries) {
      const row = this.rows.get(e.id);
      if (row) this.rows.set(e.id, { ...row, lastHeartbeatAt: e.lastHeartbeatAt, metrics: structuredClone(e.metrics) });
    }
  }

  private check(call: string): void {
    this.calls.push(call);
    const err = this.failNext;
    if (err) {
      this.failNext = undefined;
      throw err;
    }
  }
}
