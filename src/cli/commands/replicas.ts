import type { Command } from "commander";
import { ListReplicasResponseSchema, ReplicaService } from "../../../gen/proto/capstan/v1/replica_service_pb.js";
import { action, type Io } from "../kit.js";
import { age, table } from "../output.js";

/** replicas: the control plane's own processes, and which one leads. */
export function registerReplicas(program: Command, io: Io): void {
  program
    .command("replicas")
    .description("list the control plane's replicas: address, version, leader, agents held, last seen")
    .action(
      action(io, async (ctx) => {
        const res = await (await ctx.clients()).of(ReplicaService).listReplicas({});
        ctx.show(ListReplicasResponseSchema, res, () =>
          table(res.replicas, [
            { header: "ID", value: (r) => (r.self ? `${r.id} *` : r.id) },
            { header: "ADDRESS", value: (r) => r.address },
            { header: "VERSION", value: (r) => r.version },
            { header: "ROLE", value: (r) => (r.leader ? "leader, chunk owner" : "follower") },
            { header: "AGENTS", value: (r) => String(r.agents) },
            { header: "UP", value: (r) => age(r.startedAt) },
            { header: "SEEN", value: (r) => `${age(r.lastSeenAt)} ago` },
          ]) + `leader epoch ${res.leaderEpoch}; * the replica that answered\n`,
        );
      }),
    );
}
