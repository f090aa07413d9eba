/**
 * Chunk lookups through a follower next to the owner (issue 13): three real
 * replicas on one PostgreSQL (TEST_DATABASE_URL, as `bash scripts/ci/postgres.sh`
 * prints), NODES nodes each reporting CHUNKS chunks, then GetChunkLocations in
 * batches of 100 ids: latency of sequential calls (p50/p99) and throughput
 * under h2load, against the owner and against a follower, in the same run.
 *
 *   TEST_DATABASE_URL=postgresql://... npm run bench:chunk-owner
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { ChunkIndexService, GetChunkLocationsRequestSchema } from "../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { NodeService } from "../gen/proto/capstan/v1/node_service_pb.js";
import { ReplicaService } from "../gen/proto/capstan/v1/replica_service_pb.js";
import { asAdmin, startReplicas } from "../test/support/replicas.js";
import { grpcFrame, h2loadGrpc } from "./load-tools.js";

const NODES = Number(process.env.NODES ?? 100);
const CHUNKS = Number(process.env.CHUNKS ?? 1000);
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? 500);
const REQUESTS = Number(process.env.REQUESTS ?? 5000);
const BATCH = 100;
/** h2load's connections and streams per connection. */
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 4);
const STREAMS = Number(process.env.STREAMS ?? 8);

if (!process.env.TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set: run `bash scripts/ci/postgres.sh` and pass the URL it prints");

const set = await startReplicas(3, { RATE_LIMIT: "0" }, { advertise: true });
try {
  const leader = (await set.client(ReplicaService, 0).listReplicas({}, { headers: asAdmin(set) })).replicas.find((r) => r.leader)!.id;
  const owner = Number(leader.slice(1));
  const follower = [0, 1, 2].find((i) => i !== owner)!;
  const chunkIds: string[] = [];
  for (let n = 0; n < NODES; n++) {
    const nodeId = `bn${n}`;
    await set.client(NodeService, owner).registerNode({ nodeId, address: `10.9.${n >> 8}.${n & 255}`, ports: { p2p: 7000 } }, { headers: asAdmin(set) });
    // Three copies of each chunk: the chunk space is a third of the locations, dealt out in order.
    const ids = Array.from({ length: CHUNKS }, (_, i) => String((n * CHUNKS + i) % Math.floor((NODES * CHUNKS) / 3)).padStart(64, "0"));
    await set.client(ChunkIndexService, owner).reportChunks({ nodeId, chunkIds: ids }, { headers: asAdmin(set) });
    if (n === 0) chunkIds.push(...ids);
  }
  const batch = chunkIds.slice(0, BATCH);
  const figures: Record<string, unknown> = {};
  for (const [name, i] of [["owner", owner], ["follower", follower]] as const) {
    const client = set.client(ChunkIndexService, i);
    const times: number[] = [];
    for (let k = 0; k < SEQUENTIAL; k++) {
      const t = performance.now();
      const res = await client.getChunkLocations({ chunkIds: batch }, { headers: asAdmin(set) });
      times.push(performance.now() - t);
      if (res.locations[0].peerIds.length === 0) throw new Error(`${name}: no holders answered`);
    }
    times.sort((a, b) => a - b);
    const frame = grpcFrame(toBinary(GetChunkLocationsRequestSchema, create(GetChunkLocationsRequestSchema, { chunkIds: batch })));
    const perSecond = await h2loadGrpc(`${set.replicas[i].url}/capstan.v1.ChunkIndexService/GetChunkLocations`, frame, REQUESTS, CONNECTIONS, STREAMS, asAdmin(set));
    figures[name] = {
      p50_ms: Number(times[Math.floor(times.length * 0.5)].toFixed(2)),
      p99_ms: Number(times[Math.floor(times.length * 0.99)].toFixed(2)),
      calls_per_s: Math.round(perSecond),
      ids_per_s: Math.round(perSecond * BATCH),
    };
  }
  console.log(JSON.stringify({ nodes: NODES, chunks_per_node: CHUNKS, batch: BATCH, sequential: SEQUENTIAL, requests: REQUESTS, connections: CONNECTIONS, streams: STREAMS, ...figures }, null, 2));
} finally {
  await set.stop();
}
