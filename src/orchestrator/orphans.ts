import type { Replica } from "../model/replica.js";

/** What a node's agent last said runs there (its heartbeat's running_containers). */
export interface RunningOnNode {
  nodeId: string;
  online: boolean;
  /** When that heartbeat was received (ms since 1970). */
  heartbeatAt: number;
  running: readonly string[];
}

/** A replica to stop on a node where the control plane does not run it. */
export interface OrphanStop {
  nodeId: string;
  replicaId: string;
  serviceName: string;
}

/** The ids the reconciler gives replicas: the service's name, a dash, 12 hex digits. */
const REPLICA_ID = /^(.+)-[0-9a-f]{12}$/;

/**
 * Replicas an agent reports running that the control plane does not run
 * there: the agent started a launch whose job was given up (its reports never
 * arrived, so the job failed as unacknowledged and a replacement was
 * launched), or it ran on past a stop it never heard of. Left alone they run
 * for good, unseen by the service's count, so the reconciler stops them (as
 * Nomad's clients stop allocations their servers no longer want).
 *
 * Judged only on online nodes and only for ids of the reconciler's own form
 * whose service or replica row the control plane knows, so a Docker container
 * that happens to be named like one is never touched. A replica that ended is
 * an orphan only when a heartbeat received after it ended still lists it; a
 * lost replica is stopped when its node returns (reconcile()), not here.
 */
export function orphanedReplicas(nodes: readonly RunningOnNode[], replicas: ReadonlyMap<string, Replica>, services: ReadonlySet<string>): OrphanStop[] {
  const out: OrphanStop[] = [];
  for (const node of nodes) {
    if (!node.online) continue;
    for (const id of node.running) {
      const r = replicas.get(id);
      const serviceName = r?.serviceName ?? REPLICA_ID.exec(id)?.[1];
      if (!serviceName || (!r && !services.has(serviceName))) continue;
      if (r && r.nodeId === node.nodeId) {
        if (r.status === "pending" || r.status === "running" || r.status === "stopping" || r.status === "lost") continue;
        if (node.heartbeatAt <= r.updatedAt.getTime()) continue;
      }
      out.push({ nodeId: node.nodeId, replicaId: id, serviceName });
    }
  }
  return out;
}
