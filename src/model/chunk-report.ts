/** A chunk report from a node, in domain terms. */
export interface ChunkReportInput {
  /** Replaces everything known about the node's chunks when true. */
  full: boolean;
  chunks: Array<{ chunkId: string; sizeBytes: number; metadata: Record<string, string> }>;
  removedChunkIds: string[];
}

/** Where agent streams hand chunk reports: the chunk index. */
export interface ChunkReportSink {
  report(nodeId: string, report: ChunkReportInput): Promise<void>;
}
