import pino from "pino";
import { describe, expect, it } from "vitest";
import { ChunkIndex } from "../../src/chunks/chunk-index.js";
import { ChunkManager } from "../../src/managers/chunk-manager.js";
import type { NodeRegistry } from "../../src/managers/node-registry.js";
import type { ChunkTargetStore } from "../../src/model/chunk-target-store.js";
import type { JobLifecycle } from "../../src/model/job-lifecycle.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { NodeState } from "../../src/state/node-state.js";

function node(id: string): Node {
  const at = new Date();
  return {
    id, name: id, address: "", labels: {}, tags: [], capabilities: { ...emptyCapabilities(), diskMb: 100_000 }, ports: { p2p: 7000 }, status: "online", eligibility: "eligible",
    draining: false, agentVersion: "", tokenHash: "", anonymous: false, agentKind: "rest", metrics: undefined, lastHeartbeatAt: at, createdAt: at, updatedAt: at,
  };
}

/** A chunk manager over real index and node views, with the job side recording what it is asked to submit. */
function manager() {
  const nodes = new NodeState();
  nodes.load(["a", "b", "c"].map(node));
  const submitted: unknown[] = [];
  const jobs = { unfinished: () => [], submit: (c: unknown) => Promise.resolve(void submitted.push(c)) } as unknown as JobLifecycle;
  const registry = { all: () => nodes.list(), get: (id: string) => nodes.get(id)! } as unknown as NodeRegistry;
  const targets = { list: () => Promise.resolve([]), set: () => Promise.resolve() } as unknown as ChunkTargetStore;
  const chunks = new ChunkManager(new ChunkIndex(2), jobs, registry, nodes, targets, { heartbeatTtlMs: 60_000, graceMs: 30_000, intervalMs: 60_000, perNodeLimit: 10, spreadLabel: "zone" }, pino({ level: "silent" }));
  return { chunks, submitted };
}

describe("a chunk owner's restart of its soft state", () => {
  it("forgets every location and plans nothing until the hold has passed, then plans from what was reported again", async () => {
    const { chunks, submitted } = manager();
    chunks.fullReport("a", [{ id: "c1", size: 1 }]);
    chunks.fullReport("b", [{ id: "c1", size: 1 }]);
    chunks.restart(30_000, 1_000);
    expect(chunks.locate(["c1"])[0].peerIds).toEqual([]);
    // Only a has reported again: c1 looks under-replicated, but b may not have re-reported yet.
    chunks.fullReport("a", [{ id: "c1", size: 1 }]);
    expect(await chunks.pass(20_000)).toBe(0);
    expect(submitted).toEqual([]);
    // After the hold, the index is taken as complete.
    expect(await chunks.pass(31_001)).toBe(1);
    expect(chunks.metrics().underReplicated).toBe(1);
  });

  it("plans at once after a restart without a hold (a replica that stops owning)", async () => {
    const { chunks } = manager();
    chunks.restart(0, 1_000);
    chunks.fullReport("a", [{ id: "c1", size: 1 }]);
    expect(await chunks.pass(1_000)).toBe(1);
  });
});
