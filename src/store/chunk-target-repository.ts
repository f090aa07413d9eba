import type { ChunkTargetStore } from "../model/chunk-target-store.js";
import type { WriteScope } from "./change-log.js";

/** ChunkTargetStore on Prisma. */
export class PrismaChunkTargetStore implements ChunkTargetStore {
  constructor(private readonly scope: WriteScope) {}

  private get db() {
    return this.scope.db;
  }

  async list(): Promise<Array<{ chunkId: string; factor: number }>> {
    return this.db.chunkTarget.findMany();
  }

  async set(chunkId: string, factor: number): Promise<void> {
    await this.scope.write(async (db, note) => {
      if (factor <= 0) await db.chunkTarget.deleteMany({ where: { chunkId } });
      else await db.chunkTarget.upsert({ where: { chunkId }, create: { chunkId, factor }, update: { factor } });
      note("chunk_target", chunkId, factor <= 0 ? "delete" : "put");
    });
  }
}
