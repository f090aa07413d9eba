import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LeaderElection } from "../../src/managers/leader-election.js";
import { NotLeaderError } from "../../src/model/errors.js";
import type { LeaseStore } from "../../src/model/leadership.js";
import { MemoryLeaseStore } from "../fakes/memory-lease-store.js";
import { memoryStores } from "../fakes/memory-stores.js";

const logger = pino({ level: "silent" });

/** Two replicas on one memory lease with a clock the test moves. */
function pair(leaseMs = 1000) {
  let now = 0;
  const stores = memoryStores();
  const leases = new MemoryLeaseStore((work) => stores.transaction(work), () => now);
  const make = (replicaId: string, store: LeaseStore = leases) => new LeaderElection(store, { replicaId, leaseMs, now: () => now }, logger);
  return { leases, a: make("a"), b: make("b"), make, advance: (ms: number) => (now += ms) };
}

describe("leader election", () => {
  it("one replica leads; the other takes over only once the lease expires, with the next epoch", async () => {
    const { a, b, advance } = pair();
    await a.tick();
    await b.tick();
    expect([a.epoch(), b.epoch()]).toEqual([1, 0]);
    advance(999);
    await b.tick();
    expect(b.isLeader()).toBe(false);
    advance(1);
    await b.tick();
    expect(b.epoch()).toBe(2);
  });

  it("a leader that renews keeps the lease", async () => {
    const { a, b, advance } = pair();
    await a.tick();
    for (let i = 0; i < 5; i++) {
      advance(400);
      await a.tick();
      await b.tick();
    }
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
  });

  it.each([
    ["its renewal is refused", async (old: LeaderElection) => old.tick()],
    ["its decision is refused", async (old: LeaderElection) => expect(old.decisions.transaction(async () => "written")).rejects.toBeInstanceOf(NotLeaderError)],
  ])("a leader replaced while paused steps down when %s, and tells its listeners", async (_what, resume) => {
    const { a, b, advance } = pair();
    const changes: Array<[boolean, number]> = [];
    a.onChange((leader, epoch) => changes.push([leader, epoch]));
    await a.tick();
    advance(1000);
    await b.tick();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, true]); // a has not looked yet
    await resume(a);
    expect(a.isLeader()).toBe(false);
    expect(changes).toEqual([[true, 1], [false, 0]]);
    await expect(b.decisions.transaction(async () => "written")).resolves.toBe("written");
  });

  it("a follower's decision is refused without asking the store", async () => {
    const { a, b } = pair();
    await a.tick();
    await b.tick();
    await expect(b.decisions.transaction(async () => "written")).rejects.toBeInstanceOf(NotLeaderError);
    expect(a.isLeader()).toBe(true);
  });

  it("stop() releases the lease: the other takes it at once, and the stopped one decides nothing more", async () => {
    const { a, b } = pair(60_000);
    await a.tick();
    await a.stop();
    await expect(a.decisions.transaction(async () => "written")).rejects.toBeInstanceOf(NotLeaderError);
    await b.tick();
    expect(b.epoch()).toBe(2);
  });

  it("a leader that cannot reach the store steps down only after a whole lease without renewal", async () => {
    const { leases, make, advance } = pair();
    let down = false;
    const flaky: LeaseStore = {
      acquire: (...a) => leases.acquire(...a),
      renew: (...a) => (down ? Promise.reject(new Error("connection refused")) : leases.renew(...a)),
      release: (...a) => leases.release(...a),
      get: () => leases.get(),
      fenced: (...a) => leases.fenced(...a),
    };
    const a = make("a", flaky);
    await a.tick();
    down = true;
    advance(500);
    await a.tick();
    expect(a.isLeader()).toBe(true);
    advance(500);
    await a.tick();
    expect(a.isLeader()).toBe(false);
  });

  it("the sole process of a SQLite file takes a lease its crashed predecessor still held", async () => {
    const { leases, make } = pair(60_000);
    await make("crashed").tick();
    const sole = new LeaderElection(leases, { replicaId: "next", leaseMs: 60_000, sole: true }, logger);
    await sole.tick();
    expect(sole.epoch()).toBe(2);
  });
});
