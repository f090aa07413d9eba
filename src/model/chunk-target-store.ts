/** Durable per-chunk replication targets (the index itself is soft state). */
export interface ChunkTargetStore {
  list(): Promise<Array<{ chunkId: string; factor: number }>>;
  /** Sets a target; 0 removes it. */
  set(chunkId: string, factor: number): Promise<void>;
}
