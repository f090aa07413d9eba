import type { ServiceImpl } from "@connectrpc/connect";
import type { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";

/**
 * ChunkIndexService. Until the chunk index lands (issue 6), an empty
 * implementation: connect-es answers every method with Unimplemented.
 */
export function createChunkIndexService(): Partial<ServiceImpl<typeof ChunkIndexService>> {
  return {};
}
