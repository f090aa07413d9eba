import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ReplicaService } from "../../gen/proto/capstan/v1/replica_service_pb.js";
import type { Membership } from "../managers/membership.js";

/** The control plane's replicas: membership and leadership. */
export function createReplicaService(membership: Pick<Membership, "list">): ServiceImpl<typeof ReplicaService> {
  return {
    async listReplicas() {
      const { replicas, leaderEpoch } = await membership.list();
      return {
        leaderEpoch: BigInt(leaderEpoch),
        replicas: replicas.map((r) => ({
          id: r.id,
          address: r.address,
          version: r.version,
          leader: r.leader,
          chunkOwner: r.chunkOwner,
          startedAt: timestampFromDate(r.startedAt),
          lastSeenAt: timestampFromDate(r.lastSeenAt),
          agents: r.agents,
          self: r.self,
        })),
      };
    },
  };
}
