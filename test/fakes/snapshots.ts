import { noRequirements, type PlacementRequirements } from "../../src/model/placement.js";
import type { NodeSnapshot } from "../../src/orchestrator/snapshot.js";

/** A node snapshot with sensible defaults: online, eligible, 4 cores, 8 GiB, 100 GiB disk. */
export function snap(id: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    id,
    name: id,
    online: true,
    eligible: true,
    labels: {},
    tags: new Set(["docker"]),
    dockerAvailable: true,
    dockerVersion: "24.0.7",
    capacity: { cpu: 4, memoryMb: 8192, diskMb: 102400, gpus: 0 },
    used: { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 },
    groups: {},
    ...over,
  };
}

/** Requirements with overrides. */
export function reqs(over: Partial<PlacementRequirements> = {}): PlacementRequirements {
  return { ...noRequirements(), ...over };
}
