import type { ServiceSpec } from "../model/service-spec.js";
import { Placer } from "./placer.js";
import type { ClusterSnapshot } from "./snapshot.js";

/** Agents that run tasks to completion register this tag (capstan-agent does; Orion's agent cannot report an exit). */
export const TASK_TAG = "task";

/**
 * Where a task of this spec runs: the node the placer picks under the spec's
 * placement, among agents that run tasks, and only among `only` when given
 * (hooks.afterDeploy runs on a node that runs a replica). Pure.
 */
export function placeTask(spec: ServiceSpec, snapshot: ClusterSnapshot, only?: ReadonlySet<string>): { nodeId: string | undefined; reason: string } {
  const nodes = only ? snapshot.nodes.filter((n) => only.has(n.id)) : snapshot.nodes;
  const requirements = { ...spec.placement, requiredTags: [...new Set([...spec.placement.requiredTags, TASK_TAG])] };
  const result = new Placer({ ...snapshot, nodes }).place({ requirements, count: 1, group: `task:${spec.name}` });
  return { nodeId: result.placements[0], reason: result.unplaced > 0 ? result.summary : "" };
}
