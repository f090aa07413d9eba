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
  if (result.unplaced === 0) return { nodeId: result.placements[0], reason: "" };
  const hint = (result.rejections.tags ?? 0) > 0 ? `; tasks run only on agents tagged "${TASK_TAG}" (capstan-agent; Orion's agents cannot report a task's end)` : "";
  return { nodeId: undefined, reason: `${result.summary}${hint}` };
}
