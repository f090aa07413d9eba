/** How the scheduler chooses among feasible nodes. */
export type PlacementStrategy = "round_robin" | "spread" | "binpack";

/** A label constraint: key op values. */
export interface LabelConstraint {
  key: string;
  operator: "=" | "!=" | "in" | "not_in" | "exists" | "not_exists";
  values: string[];
}

/** What a piece of work needs from a node (seeds 001, 003). */
export interface PlacementRequirements {
  /** CPU cores, memory and disk in MiB, GPUs. */
  resources: { cpu: number; memoryMb: number; diskMb: number; gpus: number };
  requiredTags: string[];
  labels: Record<string, string>;
  constraints: LabelConstraint[];
  requireDocker: boolean;
  minDockerVersion: string;
  strategy: PlacementStrategy | undefined;
  /** locality: how much the wanted chunks' bytes count (0 means 1); absent in requirements stored before it existed. */
  weights: { cpu: number; memory: number; disk: number; spread: number; locality?: number };
  spreadLabel: string;
  /**
   * Chunk-aware placement (issue 16): the chunks this work reads; nodes that
   * hold more of their bytes score higher. Absent in requirements stored
   * before it existed.
   */
  chunkIds?: string[];
}

/** Requirements that any node meets. */
export function noRequirements(): PlacementRequirements {
  return {
    resources: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 },
    requiredTags: [],
    labels: {},
    constraints: [],
    requireDocker: false,
    minDockerVersion: "",
    strategy: undefined,
    weights: { cpu: 0, memory: 0, disk: 0, spread: 0 },
    spreadLabel: "",
    chunkIds: [],
  };
}
