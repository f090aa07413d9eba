import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/model/errors.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { openDatabase, type Database } from "../../src/store/database.js";

function node(id: string): Node {
  const now = new Date();
  return {
    id, name: id, address: "", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, status: "online", eligibility: "eligible",
    draining: false, agentVersion: "", tokenHash: `hash-${id}`, anonymous: false, agentKind: "grpc", metrics: undefined, lastHeartbeatAt: now, createdAt: now, updatedAt: now,
  };
}

describe("concurrent writes on SQLite share transactions (group commit)", () => {
  let dir: string;
  let db: Database;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "capstan-group-commit-"));
    db = await openDatabase(`file:${join(dir, "g.db")}`, pino({ level: "silent" }));
  });
  afterAll(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fifty registrations at once commit in fewer transactions, a duplicate among them fails alone and leaves no change row", async () => {
    await db.nodes.insert(node("taken"));
    const head = await db.feed.head();
    let commits = 0;
    const stop = db.feed.onCommitted(() => void commits++);
    const ids = Array.from({ length: 50 }, (_, i) => (i === 25 ? "taken" : `g${i}`));
    const outcomes = await Promise.allSettled(ids.map((id) => db.nodes.insert(node(id))));
    stop();
    expect(outcomes.filter((o) => o.status === "rejected")).toHaveLength(1);
    expect(outcomes[25].status).toBe("rejected");
    // A fault of that write alone, not of the store: the store stays healthy.
    expect((outcomes[25] as PromiseRejectedResult).reason).not.toBeInstanceOf(StoreUnavailableError);
    expect(db.health.ok).toBe(true);
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(49);
    const changes = await db.feed.after(head, 100);
    // Every stored write has its change row, numbered without holes; the duplicate has none.
    expect(changes.map((c) => c.seq - head)).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
    expect(changes.map((c) => c.key).sort()).toEqual(ids.filter((id) => id !== "taken").sort());
    expect((await db.nodes.listAll()).map((n) => n.id).sort()).toEqual([...ids.filter((id) => id !== "taken"), "taken"].sort());
  });
});
