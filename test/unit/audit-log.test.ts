import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AuditLog } from "../../src/managers/audit-log.js";
import type { AuditEvent, AuditStore } from "../../src/model/audit.js";

const logger = pino({ level: "silent" });
const event = (target: string) => ({ actor: "operator:ci", actorKind: "operator", rpc: "capstan.v1.DeploymentService/CreateDeployment", target, outcome: "ok", message: "", peer: "127.0.0.1" });

/** An AuditStore in memory that records each append as one batch and can be made to fail. */
class BatchStore implements AuditStore {
  readonly batches: AuditEvent[][] = [];
  failing: Error | undefined;
  async append(events: AuditEvent[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing) throw this.failing;
    this.batches.push(events);
  }
  async list(): Promise<AuditEvent[]> {
    return this.batches.flat();
  }
}

describe("AuditLog.commit", () => {
  it("resolves only once the event is stored, writing concurrent calls' events together", async () => {
    const store = new BatchStore();
    const log = new AuditLog(store, logger);
    await Promise.all(["a", "b", "c"].map((t) => log.commit(event(t))));
    expect(store.batches.map((b) => b.map((e) => e.target))).toEqual([["a", "b", "c"]]);
  });

  it("rejects while the store fails, keeps the event, and writes it when the store is back", async () => {
    const store = new BatchStore();
    const log = new AuditLog(store, logger);
    store.failing = new Error("database or disk is full");
    await expect(log.commit(event("kept"))).rejects.toThrow("database or disk is full");
    store.failing = undefined;
    await log.flush();
    expect(store.batches.flat().map((e) => e.target)).toEqual(["kept"]);
  });
});
