import type { Command } from "commander";
import { ChunkIndexService, GetChunkLocationsResponseSchema, GetClusterMetricsResponseSchema } from "../../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { action, type Io } from "../kit.js";
import { details, list, table } from "../output.js";

/** chunks locate|metrics. */
export function registerChunks(program: Command, io: Io): void {
  const chunks = program.command("chunks").description("the chunk index: where chunks are, how replicated");
  chunks
    .command("locate")
    .description("show which nodes hold each chunk")
    .argument("<id...>", "chunk ids")
    .action(
      action(io, async (ctx, chunkIds: string[]) => {
        const res = await (await ctx.clients()).of(ChunkIndexService).getChunkLocations({ chunkIds });
        ctx.show(GetChunkLocationsResponseSchema, res, () =>
          table(res.locations, [
            { header: "CHUNK", value: (l) => l.chunkId },
            { header: "HOLDERS", value: (l) => String(l.peerIds.length) },
            { header: "NODES", value: (l) => list(l.peerIds) },
            { header: "ADDRESSES", value: (l) => list(l.holders.map((h) => h.address).filter(Boolean)) },
          ]),
        );
      }),
    );
  chunks
    .command("metrics")
    .description("cluster-wide chunk and node figures")
    .action(
      action(io, async (ctx) => {
        const m = await (await ctx.clients()).of(ChunkIndexService).getClusterMetrics({});
        ctx.show(GetClusterMetricsResponseSchema, m, () =>
          details([
            ["nodes", `${m.totalNodes} (${m.activeNodes} active, ${m.offlineNodes} offline)`],
            ["chunks", String(m.totalChunks)],
            ["replicas", String(m.totalReplicas)],
            ["bytes", String(m.totalBytes)],
            ["under-replicated", String(m.underReplicated)],
            ["over-replicated", String(m.overReplicated)],
            ["zero replicas", String(m.zeroReplicated)],
            ["pending commands", String(m.pendingCommands)],
            ["cache hit rate", m.cacheHitRate.toFixed(3)],
          ]),
        );
      }),
    );
}
