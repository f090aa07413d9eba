import type { ChunkTargetStore } from "../model/chunk-target-store.js";
import type { DbClient } from "./db.js";

/** ChunkTargetStore on Prisma. */
export class PrismaChunkTargetStore implements ChunkTargetStore {
  constructor(private readonly db: DbClient) {}

  async list(): Promise<Array<{ chunkId: string; factor: number }>> {
    return this.db.chunkTarget.findMany();
  }

  async set(chunkId: string, factor: number): Promise<void> {
    if (factor <= 0) await this.db.chunkTarget.deleteMany({ where: { chunkId } });
    else await this.db.chunkTarget.upsert({ where: { chunkId }, create: { chunkId, factor }, update: { factor } });
  }
}
