import type { DeploymentState } from "../state/deployment-state.js";
import type { NodeState } from "../state/node-state.js";
import type { ServiceState } from "../state/service-state.js";
import { ACTIVE } from "../model/replica.js";
import { nodeSnapshot, withAllocations, type Allocation } from "./build-snapshot.js";
import type { ChunkLocalityView, ClusterSnapshot } from "./snapshot.js";

/**
 * The scheduler's snapshot of the live state: every node, with the resources
 * taken by deployments and active replicas. Built on demand; the scheduler
 * only ever sees this copy (and a read-only view of the chunk index).
 */
export function clusterSnapshot(nodes: NodeState, deployments: DeploymentState, services: ServiceState, chunks?: ChunkLocalityView): ClusterSnapshot {
  const allocations: Allocation[] = [];
  for (const d of deployments.list()) {
    if (d.nodeId === "" || d.status === "stopped") continue;
    const r = d.requirements.resources;
    allocations.push({ nodeId: d.nodeId, group: d.id, resources: { cpu: r.cpu, memoryMb: r.memoryMb, diskMb: r.diskMb, gpus: r.gpus } });
  }
  for (const r of services.replicas.values()) {
    if (!ACTIVE.has(r.status)) continue;
    const spec = services.services.get(r.serviceName)?.spec;
    const res = spec?.placement.resources ?? { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 };
    allocations.push({ nodeId: r.nodeId, group: r.serviceName, resources: { ...res } });
  }
  return withAllocations(nodes.list().map(nodeSnapshot), allocations, chunks);
}
