/** Amounts of the resources placement accounts for. */
export interface ResourceAmounts {
  /** CPU cores. */
  cpu: number;
  memoryMb: number;
  diskMb: number;
  gpus: number;
}

/**
 * A read-only view of one node, as the scheduler sees it: the scheduler never
 * reads the store or the live state, only snapshots built from them.
 */
export interface NodeSnapshot {
  readonly id: string;
  readonly name: string;
  readonly online: boolean;
  /** Eligible and not draining. */
  readonly eligible: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly tags: ReadonlySet<string>;
  readonly dockerAvailable: boolean;
  readonly dockerVersion: string;
  readonly capacity: Readonly<ResourceAmounts>;
  /** Already allocated to work placed on the node. */
  readonly used: Readonly<ResourceAmounts>;
  /** How many units of each group (service, deployment) already run here. */
  readonly groups: Readonly<Record<string, number>>;
}

/** A read-only view of the chunk index, for chunk-aware placement. */
export interface ChunkLocalityView {
  /** A chunk's size in bytes (0 when not reported) and the online nodes holding it; undefined for a chunk nobody reported. */
  chunkLocation(chunkId: string): { size: number; holders: readonly string[] } | undefined;
}

/** The cluster at one moment. */
export interface ClusterSnapshot {
  readonly nodes: readonly NodeSnapshot[];
  /** Where chunks are, for requests that list chunk_ids; absent, locality scores nothing. */
  readonly chunks?: ChunkLocalityView;
}

/** Zero of every resource. */
export function noResources(): ResourceAmounts {
  return { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 };
}
