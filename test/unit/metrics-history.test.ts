import { describe, expect, it } from "vitest";
import { emptyCapabilities, type Node, type NodeMetrics } from "../../src/model/node.js";
import { MetricsHistory } from "../../src/state/metrics-history.js";
import { NodeState } from "../../src/state/node-state.js";

const metrics = (cpu: number): NodeMetrics => ({
  cpuUsage: cpu, memUsage: cpu / 2, diskFreeMb: 900, runningContainers: [], memoryUsedMb: 512, diskUsedMb: 100,
  cacheHitRate: 0, totalChunks: 0, activeConnections: 3, uploadSpeedMbps: 0, downloadSpeedMbps: 0, load1: cpu / 100,
});
const at = (s: number) => new Date(Date.UTC(2026, 10, 30, 12, 0, 0) + s * 1000);

describe("heartbeat metrics history", () => {
  // [what, window s, step s, heartbeats at (s), expected sample times (s)]
  const cases: Array<[string, number, number, number[], number[]]> = [
    ["keeps every heartbeat a step apart", 60, 10, [0, 10, 20], [0, 10, 20]],
    ["keeps one sample per step when heartbeats come faster", 60, 10, [0, 1, 5, 10, 12, 21], [0, 10, 21]],
    ["drops the oldest when the ring is full", 30, 10, [0, 10, 20, 30, 40], [10, 20, 30, 40]],
    ["drops samples past the window after a silence", 60, 10, [0, 10, 20, 200], [200]],
    ["ignores a heartbeat older than the newest sample", 60, 10, [20, 5], [20]],
  ];
  it.each(cases)("%s", (_what, window, step, beats, expected) => {
    const h = new MetricsHistory({ windowMs: window * 1000, stepMs: step * 1000 });
    beats.forEach((s) => h.record("n1", at(s), metrics(s)));
    const got = h.samples("n1");
    expect(got.map((x) => (x.at.getTime() - at(0).getTime()) / 1000)).toEqual(expected);
    expect(got.length).toBeLessThanOrEqual(window / step + 1);
    // Every figure a chart uses comes back with its sample.
    expect(got.map((x) => x.cpuUsage)).toEqual(expected);
    expect(got.every((x) => x.memUsage === x.cpuUsage / 2 && x.load1 === x.cpuUsage / 100 && x.memoryUsedMb === 512 && x.diskFreeMb === 900 && x.activeConnections === 3)).toBe(true);
  });

  it("answers samples at or after a time, and nothing for a node it has not seen", () => {
    const h = new MetricsHistory({ windowMs: 600_000, stepMs: 10_000 });
    [0, 10, 20, 30].forEach((s) => h.record("n1", at(s), metrics(s)));
    expect(h.samples("n1", at(15)).map((x) => x.cpuUsage)).toEqual([20, 30]);
    expect(h.samples("other")).toEqual([]);
  });

  it("follows the node view: heartbeats add samples, a status change adds none, deletion forgets", () => {
    const nodes = new NodeState();
    const h = new MetricsHistory({ windowMs: 600_000, stepMs: 1 });
    h.follow(nodes);
    const node = { id: "n1", name: "n1", status: "online", capabilities: emptyCapabilities(), labels: {}, lastHeartbeatAt: at(0), metrics: metrics(7) } as unknown as Node;
    nodes.put(node);
    nodes.put({ ...node, lastHeartbeatAt: at(5), metrics: metrics(9) }, true);
    nodes.put({ ...node, status: "offline", lastHeartbeatAt: at(5), metrics: metrics(9) } as Node);
    expect(h.samples("n1").map((x) => x.cpuUsage)).toEqual([7, 9]);
    nodes.remove("n1");
    expect(h.samples("n1")).toEqual([]);
  });
});
