import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../src/model/errors.js";
import { emptyCapabilities } from "../../src/model/node.js";
import type { RegisterNodeInput } from "../../src/model/node-input.js";
import { emptyMetrics, NodeRegistry } from "../../src/managers/node-registry.js";
import type { RegistrationClaim } from "../../src/model/registration-rules.js";
import { LivenessMonitor } from "../../src/managers/liveness-monitor.js";
import { tokenMatches } from "../../src/model/tokens.js";
import { NodeState } from "../../src/state/node-state.js";
import { ManualClock } from "../fakes/clock.js";
import { MemoryNodeStore } from "../fakes/memory-node-store.js";

const logger = pino({ level: "silent" });
const CLAIM: RegistrationClaim = { kind: "rest", credentialed: true, anonymous: false, certNames: undefined };

function input(over: Partial<RegisterNodeInput> = {}): RegisterNodeInput {
  return {
    nodeId: "",
    name: "worker-01",
    address: "10.0.0.1",
    labels: { zone: "a" },
    tags: ["docker"],
    capabilities: { ...emptyCapabilities(), cpuCount: 4, memMb: 8192 },
    ports: {},
    agentVersion: "1.0.0",
    ...over,
  };
}

describe("NodeRegistry", () => {
  let store: MemoryNodeStore;
  let state: NodeState;
  let clock: ManualClock;
  let registry: NodeRegistry;
  let monitor: LivenessMonitor;

  beforeEach(() => {
    store = new MemoryNodeStore();
    state = new NodeState();
    clock = new ManualClock();
    registry = new NodeRegistry({ store, state, logger, now: clock.date });
    monitor = new LivenessMonitor(registry, state, store, { heartbeatTtlMs: 15_000, flushIntervalMs: 10_000, now: clock.now }, logger);
  });

  it("registers a new node online, persisted, with a token stored only as a hash", async () => {
    const { node, token } = await registry.register(input(), CLAIM);
    expect(node.status).toBe("online");
    expect(store.rows.get(node.id)?.name).toBe("worker-01");
    expect(token).toMatch(/^cpn_/);
    expect(JSON.stringify([...store.rows.values()])).not.toContain(token);
    expect(tokenMatches(token, node.tokenHash)).toBe(true);
  });

  it("keeps the id stable when the same name registers again, and rotates the token", async () => {
    const first = await registry.register(input(), CLAIM);
    const second = await registry.register(input({ address: "10.0.0.2" }), CLAIM);
    expect(second.node.id).toBe(first.node.id);
    expect(second.node.address).toBe("10.0.0.2");
    expect(tokenMatches(first.token, second.node.tokenHash)).toBe(false);
    expect(second.node.createdAt).toEqual(first.node.createdAt);
    expect(state.size).toBe(1);
  });

  it("uses the id a node chooses", async () => {
    const { node } = await registry.register(input({ nodeId: "node-123" }), CLAIM);
    expect(node.id).toBe("node-123");
  });

  it("stores nothing when the input is invalid", async () => {
    await expect(registry.register(input({ address: "not an address" }), CLAIM)).rejects.toThrow(/^address: /);
    await expect(registry.register(input({ name: "" }), CLAIM)).rejects.toThrow(/^name: is required/);
    expect(store.rows.size).toBe(0);
    expect(state.size).toBe(0);
  });

  it("leaves memory unchanged when the store write fails", async () => {
    store.failNext = new Error("disk full");
    await expect(registry.register(input(), CLAIM)).rejects.toThrow("disk full");
    expect(state.size).toBe(0);
  });

  it("answers NotFound for a heartbeat from an unknown node", async () => {
    await expect(registry.heartbeat("ghost", emptyMetrics())).rejects.toBeInstanceOf(NotFoundError);
  });

  it("keeps heartbeats of online nodes in memory and flushes them in one batch", async () => {
    const a = await registry.register(input({ name: "a" }), CLAIM);
    const b = await registry.register(input({ name: "b" }), CLAIM);
    store.calls.length = 0;
    clock.advance(1000);
    await registry.heartbeat(a.node.id, { ...emptyMetrics(), cpuUsage: 45.5 });
    await registry.heartbeat(b.node.id, { ...emptyMetrics(), cpuUsage: 10 });
    expect(store.calls).toEqual([]);
    await monitor.flush();
    expect(store.calls).toEqual(["flush:2"]);
    expect(store.rows.get(a.node.id)?.metrics?.cpuUsage).toBe(45.5);
  });

  it("takes a node offline after the TTL and back online on the next heartbeat, persisting both", async () => {
    const { node } = await registry.register(input(), CLAIM);
    clock.advance(14_999);
    await monitor.sweep();
    expect(registry.get(node.id).status).toBe("online");
    clock.advance(2);
    await monitor.sweep();
    expect(registry.get(node.id).status).toBe("offline");
    expect(store.rows.get(node.id)?.status).toBe("offline");
    await registry.heartbeat(node.id, emptyMetrics());
    expect(registry.get(node.id).status).toBe("online");
    expect(store.rows.get(node.id)?.status).toBe("online");
  });

  it("stores the heartbeat that brings a node back online with its status, not at the next flush", async () => {
    const { node } = await registry.register(input(), CLAIM);
    clock.advance(20_000);
    await monitor.sweep();
    expect(store.rows.get(node.id)?.status).toBe("offline");
    const back = clock.date();
    await registry.heartbeat(node.id, { ...emptyMetrics(), memoryUsedMb: 42 });
    expect(store.rows.get(node.id)).toMatchObject({ status: "online", lastHeartbeatAt: back, metrics: { memoryUsedMb: 42 } });
  });

  it("persists a heartbeat that races an offline transition after it", async () => {
    const { node } = await registry.register(input(), CLAIM);
    clock.advance(20_000);
    const sweeping = monitor.sweep();
    const beat = registry.heartbeat(node.id, emptyMetrics());
    await Promise.all([sweeping, beat]);
    expect(registry.get(node.id).status).toBe("online");
    expect(store.rows.get(node.id)?.status).toBe("online");
    expect(store.calls.filter((c) => c.startsWith("setStatus"))).toEqual([`setStatus:${node.id}:offline`, `setStatus:${node.id}:online`]);
  });

  it("marks nodes with a stale heartbeat offline at start-up", async () => {
    const { node } = await registry.register(input(), CLAIM);
    clock.advance(60_000);
    const restarted = new NodeState();
    restarted.load(await store.listAll());
    const registry2 = new NodeRegistry({ store, state: restarted, logger, now: clock.date });
    const monitor2 = new LivenessMonitor(registry2, restarted, store, { heartbeatTtlMs: 15_000, flushIntervalMs: 10_000, now: clock.now }, logger);
    await monitor2.start();
    await monitor2.stop();
    expect(restarted.get(node.id)?.status).toBe("offline");
  });

  it("gives nodes not heard since start-up one flush interval on top of the TTL, as their stored heartbeat may be that old", async () => {
    const { node } = await registry.register(input(), CLAIM);
    clock.advance(20_000);
    const restarted = new NodeState();
    restarted.load(await store.listAll());
    const registry2 = new NodeRegistry({ store, state: restarted, logger, now: clock.date });
    const monitor2 = new LivenessMonitor(registry2, restarted, store, { heartbeatTtlMs: 15_000, flushIntervalMs: 10_000, now: clock.now }, logger);
    await monitor2.start();
    expect(restarted.get(node.id)?.status).toBe("online");
    clock.advance(4_999);
    await monitor2.sweep();
    expect(restarted.get(node.id)?.status).toBe("online");
    clock.advance(2);
    await monitor2.sweep();
    expect(restarted.get(node.id)?.status).toBe("offline");
    // Heard after start-up: its time is exact, and the TTL alone applies.
    await registry2.heartbeat(node.id, emptyMetrics());
    clock.advance(15_001);
    await monitor2.sweep();
    await monitor2.stop();
    expect(restarted.get(node.id)?.status).toBe("offline");
  });

  it("drains a node (ineligible, draining) and ends the drain", async () => {
    const { node } = await registry.register(input(), CLAIM);
    const drained = await registry.drain(node.id, false);
    expect([drained.eligibility, drained.draining]).toEqual(["ineligible", true]);
    expect(store.rows.get(node.id)?.draining).toBe(true);
    const back = await registry.drain(node.id, true);
    expect([back.eligibility, back.draining]).toEqual(["eligible", false]);
  });

  it("keeps eligibility and drain across re-registration", async () => {
    const { node } = await registry.register(input(), CLAIM);
    await registry.drain(node.id, false);
    const again = await registry.register(input(), CLAIM);
    expect(again.node.draining).toBe(true);
  });

  it("filters by status, labels and tag, and pages by id", async () => {
    for (const [i, zone] of ["a", "b", "a", "a"].entries()) {
      await registry.register(input({ nodeId: `n${i}`, name: `n${i}`, labels: { zone }, tags: i === 3 ? ["gpu"] : ["docker"] }), CLAIM);
    }
    expect(registry.list({ labelSelector: "zone=a", tag: "", pageSize: 0, pageToken: "" }).nodes.map((n) => n.id)).toEqual(["n0", "n2", "n3"]);
    expect(registry.list({ labelSelector: "", tag: "gpu", pageSize: 0, pageToken: "" }).nodes.map((n) => n.id)).toEqual(["n3"]);
    const first = registry.list({ labelSelector: "", tag: "", pageSize: 3, pageToken: "" });
    expect(first.nodes.map((n) => n.id)).toEqual(["n0", "n1", "n2"]);
    expect(first.count).toBe(4);
    const second = registry.list({ labelSelector: "", tag: "", pageSize: 3, pageToken: first.nextPageToken });
    expect(second.nodes.map((n) => n.id)).toEqual(["n3"]);
    expect(second.nextPageToken).toBe("");
    expect(() => registry.list({ labelSelector: "zone", tag: "", pageSize: 0, pageToken: "" })).toThrow(/^label_selector: /);
    expect(() => registry.list({ labelSelector: "", tag: "", pageSize: -1, pageToken: "" })).toThrow(/^page_size: /);
  });

  it("deletes a node from store and memory", async () => {
    const { node } = await registry.register(input(), CLAIM);
    await registry.delete(node.id);
    expect(store.rows.size).toBe(0);
    expect(() => registry.get(node.id)).toThrow(NotFoundError);
    await expect(registry.delete(node.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
