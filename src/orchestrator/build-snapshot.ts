import type { Node } from "../model/node.js";
import type { ChunkLocalityView, ClusterSnapshot, NodeSnapshot, ResourceAmounts } from "./snapshot.js";

/** Work that occupies a node: a replica or a deployment. */
export interface Allocation {
  nodeId: string;
  /** The service or deployment it belongs to. */
  group: string;
  resources: ResourceAmounts;
}

/** A node as the scheduler sees it, with nothing allocated yet. */
export function nodeSnapshot(n: Node): NodeSnapshot {
  const c = n.capabilities;
  return {
    id: n.id,
    name: n.name,
    online: n.status === "online",
    eligible: n.eligibility === "eligible" && !n.draining,
    labels: n.labels,
    tags: new Set(n.tags),
    dockerAvailable: c.dockerAvailable,
    dockerVersion: c.dockerVersion,
    capacity: {
      cpu: c.cpuCount,
      memoryMb: c.memMb,
      diskMb: c.diskMb,
      gpus: c.gpus.length,
    },
    used: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 },
    groups: {},
  };
}

/** Adds allocations to node snapshots: resources used and units per group. */
export function withAllocations(nodes: readonly NodeSnapshot[], allocations: Iterable<Allocation>, chunks?: ChunkLocalityView): ClusterSnapshot {
  const used = new Map<string, ResourceAmounts>();
  const groups = new Map<string, Record<string, number>>();
  for (const a of allocations) {
    const u = used.get(a.nodeId) ?? { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 };
    used.set(a.nodeId, {
      cpu: u.cpu + a.resources.cpu,
      memoryMb: u.memoryMb + a.resources.memoryMb,
      diskMb: u.diskMb + a.resources.diskMb,
      gpus: u.gpus + a.resources.gpus,
    });
    const g = groups.get(a.nodeId) ?? {};
    g[a.group] = (g[a.group] ?? 0) + 1;
    groups.set(a.nodeId, g);
  }
  return {
    chunks,
    nodes: nodes.map((n) => {
      const u = used.get(n.id);
      const g = groups.get(n.id);
      if (!u && !g) return n;
      const base = n.used;
      return {
        ...n,
        used: u ? { cpu: base.cpu + u.cpu, memoryMb: base.memoryMb + u.memoryMb, diskMb: base.diskMb + u.diskMb, gpus: base.gpus + u.gpus } : base,
        groups: { ...n.groups, ...g },
      };
    }),
  };
}
