import type { NodeMetrics } from "../model/node.js";
import type { NodeState } from "./node-state.js";

/** A heartbeat's figures that charts use, and when it arrived. */
export interface MetricsSample {
  at: Date;
  cpuUsage: number;
  memUsage: number;
  load1: number;
  memoryUsedMb: number;
  diskFreeMb: number;
  activeConnections: number;
}

/** How much history each node keeps. */
export interface MetricsHistoryOptions {
  /** Samples older than this, relative to the newest, are dropped. */
  windowMs: number;
  /** At most one sample per step: a node beating every second keeps one in ten at 10 s. */
  stepMs: number;
}

// Each sample is FIELDS numbers in a node's Float64Array ring: time (ms), then the figures.
const FIELDS = 7;

interface Ring {
  data: Float64Array;
  /** Index of the oldest sample. */
  head: number;
  count: number;
}

/**
 * Recent heartbeat metrics per node, for charts (the dashboard's node page,
 * `capstan node history`): a fixed-size ring of numbers per node in memory,
 * fed by the heartbeats the node view records, dropped with the node.
 *
 * Why memory and not the store: heartbeats are memory-only on their hot path
 * (the liveness monitor flushes only the latest), a few minutes is all a
 * glance needs, and a restart costs a gap in a chart, nothing more. Memory is
 * bounded and small: 56 bytes × (window/step + 1) samples per node (10 minutes at
 * 10 s: 3.4 KiB a node, 34 MiB for 10,000 nodes).
 */
export class MetricsHistory {
  private readonly rings = new Map<string, Ring>();
  private readonly capacity: number;

  constructor(private readonly options: MetricsHistoryOptions) {
    this.capacity = Math.floor(options.windowMs / options.stepMs) + 1;
  }

  /** Follows a node view: heartbeats add samples; a deleted node's history goes. */
  follow(nodes: NodeState): () => void {
    return nodes.onChange((c) => {
      if (c.type === "delete") this.rings.delete(c.node.id);
      else if (c.node.metrics && c.node.lastHeartbeatAt) this.record(c.node.id, c.node.lastHeartbeatAt, c.node.metrics);
    });
  }

  /** Adds a sample, unless the newest one is less than a step older. */
  record(nodeId: string, at: Date, m: NodeMetrics): void {
    let ring = this.rings.get(nodeId);
    if (!ring) this.rings.set(nodeId, (ring = { data: new Float64Array(this.capacity * FIELDS), head: 0, count: 0 }));
    const t = at.getTime();
    if (ring.count > 0 && t - this.timeAt(ring, ring.count - 1) < this.options.stepMs) return;
    const slot = ((ring.head + ring.count) % this.capacity) * FIELDS;
    ring.data.set([t, m.cpuUsage, m.memUsage, m.load1, m.memoryUsedMb, m.diskFreeMb, m.activeConnections], slot);
    if (ring.count < this.capacity) ring.count++;
    else ring.head = (ring.head + 1) % this.capacity;
    // Samples past the window (a node silent for a while, then back) go too.
    while (ring.count > 1 && t - this.timeAt(ring, 0) > this.options.windowMs) {
      ring.head = (ring.head + 1) % this.capacity;
      ring.count--;
    }
  }

  /** A node's samples, oldest first, at or after `since` when given. */
  samples(nodeId: string, since?: Date): MetricsSample[] {
    const ring = this.rings.get(nodeId);
    if (!ring) return [];
    const out: MetricsSample[] = [];
    for (let i = 0; i < ring.count; i++) {
      const o = ((ring.head + i) % this.capacity) * FIELDS;
      const d = ring.data;
      if (since && d[o] < since.getTime()) continue;
      out.push({ at: new Date(d[o]), cpuUsage: d[o + 1], memUsage: d[o + 2], load1: d[o + 3], memoryUsedMb: d[o + 4], diskFreeMb: d[o + 5], activeConnections: d[o + 6] });
    }
    return out;
  }

  private timeAt(ring: Ring, i: number): number {
    return ring.data[((ring.head + i) % this.capacity) * FIELDS];
  }
}
