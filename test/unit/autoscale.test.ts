import { describe, expect, it } from "vitest";
import { decideScale, utilisation, type AutoscaleMemory, type ReplicaCpu } from "../../src/orchestrator/autoscale.js";
import type { ServiceSpec } from "../../src/model/service-spec.js";
import { noRequirements } from "../../src/model/placement.js";
import { spec } from "../fakes/service-specs.js";
import { ManualClock } from "../fakes/clock.js";

const autoscaling = { enabled: true, minReplicas: 1, maxReplicas: 4, scaleUpThreshold: 80, scaleDownThreshold: 20, scaleDownDelaySeconds: 60 };
/** A service asking for half a core per replica. */
const svc = (replicas: number, over: Partial<typeof autoscaling> = {}): ServiceSpec =>
  spec("web", { replicas, autoscaling: { ...autoscaling, ...over }, placement: { ...noRequirements(), resources: { cpu: 0.5, memoryMb: 0, diskMb: 0, gpus: 0 } } });
/** n replicas each using `cores` (their own figure), on 4-core nodes at 10%. */
const using = (n: number, cores: number | undefined, nodePercent: number | undefined = 10): ReplicaCpu[] =>
  Array.from({ length: n }, (_, i) => ({ replicaId: `r${i}`, cores, nodePercent, nodeCores: 4 }));

describe("utilisation", () => {
  it.each([
    { name: "own CPU over the request", r: { replicaId: "r", cores: 0.4, nodePercent: 90, nodeCores: 4 }, requested: 0.5, want: { percent: 80, source: "replica" } },
    { name: "own CPU over the node's cores without a request", r: { replicaId: "r", cores: 1, nodePercent: 90, nodeCores: 4 }, requested: 0, want: { percent: 25, source: "replica" } },
    { name: "the node's CPU when the agent reports no per-replica figure", r: { replicaId: "r", cores: undefined, nodePercent: 90, nodeCores: 4 }, requested: 0.5, want: { percent: 90, source: "node" } },
    { name: "nothing yet from an agent that measures replicas (not its node's figure)", r: { replicaId: "r", cores: undefined, nodePercent: 90, nodeCores: 4, measured: true }, requested: 0.5, want: undefined },
    { name: "nothing known", r: { replicaId: "r", cores: undefined, nodePercent: undefined, nodeCores: 0 }, requested: 0.5, want: undefined },
  ])("$name", ({ r, requested, want }) => expect(utilisation(r, requested)).toEqual(want));
});

describe("decideScale", () => {
  const now = Date.parse("2026-01-01T00:10:00Z");
  it.each([
    { name: "disabled: nothing", spec: spec("web", { replicas: 2 }), running: using(2, 0.5), starting: 0, memory: {}, to: undefined },
    { name: "above the threshold: one more", spec: svc(2), running: using(2, 0.45), starting: 0, memory: {}, to: 3, reason: "cpu 90.0% of requested (replica CPU) above scaleUpThreshold 80%: 2 → 3" },
    { name: "above, on node CPU: one more, and it says so", spec: svc(2), running: using(2, undefined, 95), starting: 0, memory: {}, to: 3, reason: "cpu 95.0% (node CPU: the agent reports no per-replica CPU) above scaleUpThreshold 80%: 2 → 3" },
    { name: "above, at maxReplicas: nothing", spec: svc(4), running: using(4, 0.5), starting: 0, memory: {}, to: undefined, note: "cpu 100.0% of requested (replica CPU) above scaleUpThreshold 80%, at maxReplicas 4" },
    { name: "above, with a replica starting: waits for it", spec: svc(3), running: using(2, 0.5), starting: 1, memory: {}, to: undefined, note: "cpu 100.0% of requested (replica CPU) above scaleUpThreshold 80%, waits for 1 starting replica(s)" },
    { name: "above, within the cooldown: waits", spec: svc(2), running: using(2, 0.5), starting: 0, memory: { lastScaleAt: now - 10_000 }, to: undefined, note: "cpu 100.0% of requested (replica CPU) above scaleUpThreshold 80%, in cooldown" },
    { name: "above, after the cooldown: one more", spec: svc(2), running: using(2, 0.5), starting: 0, memory: { lastScaleAt: now - 30_000 }, to: 3 },
    { name: "between the thresholds: nothing", spec: svc(2), running: using(2, 0.25), starting: 0, memory: { belowSince: now - 600_000 }, to: undefined, note: "" },
    { name: "below, first seen: the delay starts", spec: svc(3), running: using(3, 0.05), starting: 0, memory: {}, to: undefined, note: "cpu 10.0% of requested (replica CPU) below scaleDownThreshold 20% for 0s of 60s" },
    { name: "below, for less than the delay: nothing", spec: svc(3), running: using(3, 0.05), starting: 0, memory: { belowSince: now - 59_000 }, to: undefined },
    { name: "below for the delay: one fewer", spec: svc(3), running: using(3, 0.05), starting: 0, memory: { belowSince: now - 60_000 }, to: 2, reason: "cpu 10.0% of requested (replica CPU) below scaleDownThreshold 20% for 60s: 3 → 2" },
    { name: "below, at minReplicas: nothing", spec: svc(1), running: using(1, 0.05), starting: 0, memory: { belowSince: now - 600_000 }, to: undefined },
    { name: "replicas above maxReplicas: back within bounds", spec: svc(6), running: using(6, 0.25), starting: 0, memory: {}, to: 4, reason: "replicas 6 outside autoscaling bounds [1, 4]: 6 → 4" },
    { name: "replicas below minReplicas: back within bounds", spec: svc(1, { minReplicas: 2 }), running: using(1, 0.25), starting: 0, memory: {}, to: 2 },
    { name: "no figures yet: waits for them", spec: svc(2), running: using(2, undefined).map((r) => ({ ...r, nodePercent: undefined })), starting: 0, memory: {}, to: undefined, note: "autoscaling waits for CPU figures from running replicas" },
  ])("$name", ({ spec: s, running, starting, memory, to, reason, note }: { spec: ServiceSpec; running: ReplicaCpu[]; starting: number; memory: AutoscaleMemory; to?: number; reason?: string; note?: string }) => {
    const out = decideScale({ spec: s, running, starting, now, memory, cooldownMs: 30_000 });
    expect(out.decision?.to).toBe(to);
    if (to !== undefined) expect(out.decision?.from).toBe(s.replicas);
    if (reason !== undefined) expect(out.decision?.reason).toBe(reason);
    if (note !== undefined) expect(out.note).toBe(note);
  });

  it("does not flap: under a load swinging across both thresholds it changes at most once per cooldown, and removes only after a full delay", () => {
    const clock = new ClockedService(svc(2));
    const loads = [0.5, 0.05, 0.5, 0.05, 0.05, 0.5, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05];
    const changes: Array<{ at: number; to: number }> = [];
    for (const cores of loads) {
      const to = clock.step(cores);
      if (to !== undefined) changes.push({ at: clock.elapsed, to });
      clock.advance(10_000);
    }
    for (let i = 1; i < changes.length; i++) expect(changes[i].at - changes[i - 1].at).toBeGreaterThanOrEqual(30_000);
    expect(changes.map((c) => c.to)).toEqual([3, 4, 3]);
    // The removal came 60 s after the load last stayed low (t=60s to t=120s).
    expect(changes[2].at).toBe(120_000);
  });
});

/** One service under decideScale over a manual clock, carrying its memory and count from step to step. */
class ClockedService {
  private readonly clock = new ManualClock();
  private readonly start = this.clock.now();
  private memory: AutoscaleMemory = {};
  constructor(private spec: ServiceSpec) {}
  get elapsed(): number {
    return this.clock.now() - this.start;
  }
  advance(ms: number): void {
    this.clock.advance(ms);
  }
  step(cores: number): number | undefined {
    const out = decideScale({ spec: this.spec, running: using(this.spec.replicas, cores), starting: 0, now: this.clock.now(), memory: this.memory, cooldownMs: 30_000 });
    this.memory = out.memory;
    if (out.decision) this.spec = { ...this.spec, replicas: out.decision.to };
    return out.decision?.to;
  }
}
