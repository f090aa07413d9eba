import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { LeaderElection } from "../../src/managers/leader-election.js";
import { NotLeaderError } from "../../src/model/errors.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { IDLE_IN_TRANSACTION_LIMIT_MS, openDatabase, type Database } from "../../src/store/database.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";

const LEASE_MS = 1_500;

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

function node(id: string): Node {
  const at = new Date(Date.UTC(2026, 0, 1));
  return {
    id, name: id, address: "10.0.0.1", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, status: "online", eligibility: "eligible",
    draining: false, agentVersion: "", agentKind: "", anonymous: false, tokenHash: "", createdAt: at, updatedAt: at, lastHeartbeatAt: at, metrics: undefined,
  };
}

async function statusOf(db: Database, id: string): Promise<string | undefined> {
  return (await db.nodes.listAll()).find((n) => n.id === id)?.status;
}

/** Ticks until the election leads (the other's lease has to expire first, on the database's clock). */
async function tickUntilLeader(e: LeaderElection): Promise<void> {
  const giveUp = Date.now() + 30_000;
  while (!e.isLeader()) {
    if (Date.now() > giveUp) throw new Error("never became leader");
    await new Promise((r) => setTimeout(r, 100));
    await e.tick();
  }
}

describe.skipIf(!providers().includes("postgresql"))("leadership on PostgreSQL: two replicas on one database", () => {
  let test: TestDatabase;
  const dbs: Database[] = [];
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close();
    await test?.drop();
  });

  async function open(): Promise<Database> {
    const db = await openDatabase(test.url, pino({ level: "silent" }));
    dbs.push(db);
    return db;
  }

  it("exactly one takes the lease; after it pauses past the lease the other takes over, and the paused one's late decision is refused and it steps down", async () => {
    test = await createTestDatabase("postgresql");
    const [dbA, dbB] = [await open(), await open()];
    await dbA.nodes.upsert(node("n1"));
    const a = logSink();
    const A = new LeaderElection(dbA.leases, { replicaId: "a", leaseMs: LEASE_MS }, a.logger);
    const B = new LeaderElection(dbB.leases, { replicaId: "b", leaseMs: LEASE_MS }, pino({ level: "silent" }));
    await A.tick();
    await B.tick();
    expect([A.isLeader(), B.isLeader()]).toEqual([true, false]);
    expect(A.epoch()).toBe(1);

    // A is "paused": it stops renewing. B takes over once the lease expires.
    await tickUntilLeader(B);
    expect(B.epoch()).toBe(2);
    expect(A.isLeader()).toBe(true); // A has not noticed yet

    // A's late decision: refused before it writes anything; A steps down.
    const late = A.decisions.transaction((tx) => tx.nodes.setStatus("n1", "offline", new Date()));
    await expect(late).rejects.toBeInstanceOf(NotLeaderError);
    expect((await statusOf(dbB, "n1"))).toBe("online");
    expect(A.isLeader()).toBe(false);
    expect(a.lines.some((l) => l.msg === "stepping down as leader")).toBe(true);

    // The new leader's decisions go through.
    await B.decisions.transaction((tx) => tx.nodes.setStatus("n1", "offline", new Date()));
    expect((await statusOf(dbA, "n1"))).toBe("offline");
    // A stays a follower while B renews.
    await B.tick();
    await A.tick();
    expect([A.isLeader(), B.isLeader()]).toEqual([false, true]);
  });

  it("a takeover waits for the old leader's decision in flight, which commits under its epoch before the new epoch starts", async () => {
    test = await createTestDatabase("postgresql");
    const [dbA, dbB] = [await open(), await open()];
    await dbA.nodes.upsert(node("n1"));
    const A = new LeaderElection(dbA.leases, { replicaId: "a", leaseMs: LEASE_MS }, pino({ level: "silent" }));
    const B = new LeaderElection(dbB.leases, { replicaId: "b", leaseMs: LEASE_MS }, pino({ level: "silent" }));
    await A.tick();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    // A's decision has passed the fence and holds the lease row's share lock.
    const decision = A.decisions.transaction(async (tx) => {
      await tx.nodes.setStatus("n1", "offline", new Date());
      await held;
      order.push("A committed");
    });
    // Past the lease, B tries to take over: its update of the row waits for A's transaction.
    await new Promise((r) => setTimeout(r, LEASE_MS + 200));
    const takeover = B.tick().then(() => order.push(`B tick done, leader ${B.isLeader()}`));
    await new Promise((r) => setTimeout(r, 300));
    expect(order).toEqual([]);
    release();
    await decision;
    await takeover;
    expect(order).toEqual(["A committed", "B tick done, leader true"]);
    expect((await statusOf(dbB, "n1"))).toBe("offline");
  });

  it("a replica paused inside a write (holding the change counter's lock) is ended by PostgreSQL after the idle limit, and the other replica's writes go on", async () => {
    test = await createTestDatabase("postgresql");
    const [dbA, dbB] = [await open(), await open()];
    // A's transaction takes the counter's row lock, as every write's change rows do, then goes quiet: to PostgreSQL,
    // a process stopped between its change rows and its commit. Prisma's own limit is lifted so only PostgreSQL's acts.
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    const stalled = dbA.prisma.$transaction(
      async (tx) => {
        await tx.$executeRaw`UPDATE change_counter SET seq = seq WHERE id = 1`;
        locked();
        await paused;
        await tx.$executeRaw`UPDATE change_counter SET seq = seq WHERE id = 1`;
      },
      { timeout: 120_000 },
    );
    const outcome = stalled.then(() => "committed", (err: unknown) => String(err));
    await holding;
    // Past the idle limit PostgreSQL has ended A's session (and with it the lock); B's write needs the counter.
    await new Promise((r) => setTimeout(r, IDLE_IN_TRANSACTION_LIMIT_MS + 1_500));
    await dbB.nodes.upsert(node("written-while-a-paused"));
    expect(await statusOf(dbB, "written-while-a-paused")).toBe("online");
    // A resumes: its transaction is gone, nothing of it is committed.
    resume();
    expect(await outcome).not.toBe("committed");
  }, 60_000);

  it("stop() hands the lease over at once: the other replica takes it on its next try, without waiting for expiry", async () => {
    test = await createTestDatabase("postgresql");
    const [dbA, dbB] = [await open(), await open()];
    const A = new LeaderElection(dbA.leases, { replicaId: "a", leaseMs: 60_000 }, pino({ level: "silent" }));
    const B = new LeaderElection(dbB.leases, { replicaId: "b", leaseMs: 60_000 }, pino({ level: "silent" }));
    await A.tick();
    await B.tick();
    expect(B.isLeader()).toBe(false);
    await A.stop();
    expect(A.isLeader()).toBe(false);
    await expect(A.decisions.transaction(async () => undefined)).rejects.toBeInstanceOf(NotLeaderError);
    await B.tick();
    expect(B.isLeader()).toBe(true);
    expect(B.epoch()).toBe(2);
  });
});

describe("leadership on SQLite (one process)", () => {
  let test: TestDatabase;
  afterEach(async () => {
    await test?.drop();
  });

  it("the process leads at once, and so does the next process after a crash left the lease held", async () => {
    test = await createTestDatabase("sqlite");
    const db1 = await openDatabase(test.url, pino({ level: "silent" }));
    const first = new LeaderElection(db1.leases, { replicaId: "one", leaseMs: 60_000, sole: true }, pino({ level: "silent" }));
    await first.tick();
    expect(first.isLeader()).toBe(true);
    await db1.nodes.upsert(node("n1"));
    await first.decisions.transaction((tx) => tx.nodes.setStatus("n1", "offline", new Date()));
    // A crash: no release; the lease stays held for a minute.
    await db1.close();
    const db2 = await openDatabase(test.url, pino({ level: "silent" }));
    try {
      const second = new LeaderElection(db2.leases, { replicaId: "two", leaseMs: 60_000, sole: true }, pino({ level: "silent" }));
      await second.tick();
      expect(second.isLeader()).toBe(true);
      expect(second.epoch()).toBe(2);
      expect((await db2.leases.get())?.holder).toBe("two");
      expect((await statusOf(db2, "n1"))).toBe("offline");
    } finally {
      await db2.close();
    }
  });

  it("a process starved past its lease (the renewal came late) stays leader at its epoch: nobody else can take an SQLite file", async () => {
    test = await createTestDatabase("sqlite");
    const db = await openDatabase(test.url, pino({ level: "silent" }));
    try {
      const only = new LeaderElection(db.leases, { replicaId: "only", leaseMs: 1_000, sole: true }, pino({ level: "silent" }));
      await only.tick();
      const epoch = only.epoch();
      // As if the event loop had been blocked for longer than the lease: the row says it expired.
      await db.prisma.$executeRawUnsafe("UPDATE leader_lease SET expires_at = 0");
      await only.tick();
      expect([only.isLeader(), only.epoch()]).toEqual([true, epoch]);
      // And the row is current again, for ListReplicas.
      const lease = await db.leases.get();
      expect(lease!.expiresAtMs).toBeGreaterThan(lease!.nowMs);
      await db.nodes.upsert(node("n2"));
      await only.decisions.transaction((tx) => tx.nodes.setStatus("n2", "offline", new Date()));
      expect(await statusOf(db, "n2")).toBe("offline");
    } finally {
      await db.close();
    }
  });
});
