import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { ForwardingChunkIndex } from "../managers/chunk-forwarding.js";
import type { ChunkManager } from "../managers/chunk-manager.js";
import { ChunkOwnerLocator } from "../managers/chunk-owner.js";
import type { LeaderElection } from "../managers/leader-election.js";
import type { ChunkIndexPort } from "../model/chunk-index-port.js";
import { createChunkOwnerClient } from "../rpc/chunk-owner-client.js";
import type { SessionRegistry } from "../sessions/session-registry.js";
import type { NodeState } from "../state/node-state.js";
import type { LeaseStore, MembershipStore } from "../model/leadership.js";

/**
 * The chunk index on a replica of several (PostgreSQL): owned by the leader,
 * forwarded to it from the others. Ownership changes restart the soft
 * state: the new owner starts empty (planning nothing for REPLICA_GRACE while
 * nodes re-report), the old one forgets what it held, and every replica asks
 * the agents it holds for full reports when it sees a new owner.
 */
export async function forwardingChunkIndex(w: {
  db: { leases: Pick<LeaseStore, "get">; members: Pick<MembershipStore, "list"> };
  config: Config;
  logger: Logger;
  leadership: LeaderElection;
  chunks: ChunkManager;
  nodeState: NodeState;
  sessions: SessionRegistry;
  minIndex: () => number;
  stops: Array<() => Promise<void> | void>;
}): Promise<ChunkIndexPort> {
  const { config, leadership, chunks, sessions } = w;
  const askForReports = () => {
    for (const session of sessions.list()) session.send({ kind: "chunk_report_request" });
  };
  leadership.onChange((leader) => {
    chunks.restart(leader ? config.replicaGraceMs : 0);
    if (leader) askForReports();
  });
  const locator = new ChunkOwnerLocator(w.db.leases, w.db.members, leadership, { replicaId: config.replicaId, refreshMs: 1_000 }, w.logger);
  locator.onOwnerChanged((owner) => {
    if (owner !== config.replicaId) askForReports();
  });
  const client = createChunkOwnerClient({ secret: config.clusterSecret ?? "", timeoutMs: config.limits.rpcTimeoutMs, minIndex: w.minIndex });
  await locator.start();
  w.stops.push(() => {
    locator.stop();
    client.close();
  });
  return new ForwardingChunkIndex(chunks, locator, client, w.nodeState);
}
