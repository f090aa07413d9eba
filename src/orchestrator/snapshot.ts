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

/** The cluster at one moment. */
export interface ClusterSnapshot {
  readonly nodes: readonly NodeSnapshot[];
}

/** Zero of every resource. */
export function noResources(): ResourceAmounts {
  return { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 };
}
