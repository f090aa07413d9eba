import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { AgentConnectionLog } from "../../src/managers/agent-connections.js";
import type { AgentSession } from "../../src/model/agent-session.js";
import type { Fact } from "../../src/model/change-facts.js";
import { SessionRegistry } from "../../src/sessions/session-registry.js";
import { MemoryFactStore } from "../fakes/memory-stores.js";

const silent = pino({ level: "silent" });

function session(nodeId: string, protocol = "grpc"): AgentSession {
  return { id: `s-${nodeId}`, nodeId, protocol, connectedAt: new Date(), acknowledges: true, supports: () => true, send: () => true, close: () => {} };
}

/** A memory fact store that counts its writes, and can be told to fail them (a store outage). */
class CountingFacts extends MemoryFactStore {
  writes = 0;
  failing = false;
  override async append(facts: readonly Fact[]): Promise<void> {
    this.writes++;
    if (this.failing) throw new Error("store unavailable");
    await super.append(facts);
  }
}

describe("AgentConnectionLog", () => {
  it("writes the connections noted within one flush interval together (a thousand a transaction), in order, with protocol and replica", async () => {
    vi.useFakeTimers();
    try {
      const facts = new CountingFacts();
      const sessions = new SessionRegistry();
      const log = new AgentConnectionLog(facts, { replica: "r1", flushMs: 250, maxPending: 50_000 }, silent);
      log.follow(sessions);
      const all = Array.from({ length: 1000 }, (_, i) => session(`n${i}`, i % 2 ? "ws-orion" : "grpc"));
      for (const s of all) sessions.attach(s);
      // Attaching wrote nothing yet: the stream's welcome never waits for the store.
      expect(facts.writes).toBe(0);
      sessions.detach(all[0]);
      await vi.advanceTimersByTimeAsync(300);
      // 1,001 facts: two transactions (at most 1,000 each), in order.
      expect(facts.writes).toBe(2);
      expect(facts.facts).toHaveLength(1001);
      expect(facts.facts[1]).toMatchObject({ entity: "agent", key: "n1", fact: { nodeId: "n1", connected: true, protocol: "ws-orion", replica: "r1" } });
      expect(facts.facts[1000]).toMatchObject({ key: "n0", fact: { connected: false, protocol: "grpc" } });
      await log.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps what it could not write during a store outage and writes it after, dropping the oldest beyond maxPending", async () => {
    vi.useFakeTimers();
    try {
      const facts = new CountingFacts();
      const sessions = new SessionRegistry();
      const log = new AgentConnectionLog(facts, { replica: "r1", flushMs: 100, maxPending: 3 }, silent);
      log.follow(sessions);
      facts.failing = true;
      for (const id of ["a", "b", "c", "d"]) sessions.attach(session(id));
      await vi.advanceTimersByTimeAsync(350);
      expect(facts.facts).toEqual([]);
      facts.failing = false;
      await vi.advanceTimersByTimeAsync(150);
      expect(facts.facts.map((f) => f.key)).toEqual(["b", "c", "d"]);
      await log.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("writes what is pending when it stops", async () => {
    const facts = new CountingFacts();
    const sessions = new SessionRegistry();
    const log = new AgentConnectionLog(facts, { replica: "r1", flushMs: 60_000, maxPending: 10 }, silent);
    log.follow(sessions);
    sessions.attach(session("a"));
    await log.stop();
    expect(facts.facts.map((f) => f.key)).toEqual(["a"]);
  });
});
