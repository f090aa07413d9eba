import type { PlacementRequirements } from "../model/placement.js";
import type { NodeSnapshot, ResourceAmounts } from "./snapshot.js";

/** A named feasibility check: a reason when the node is rejected, else undefined. */
export interface Filter {
  readonly name: string;
  check(node: NodeSnapshot, req: PlacementRequirements, used: ResourceAmounts): string | undefined;
}

/** Compares dotted versions numerically: "24.0.10" > "24.0.9". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const fmt = (n: number) => String(Math.round(n * 100) / 100);

/** The filters, in the order they are applied and reported. */
export const FILTERS: readonly Filter[] = [
  { name: "online", check: (n) => (n.online ? undefined : "node is offline") },
  { name: "eligible", check: (n) => (n.eligible ? undefined : "node is ineligible or draining") },
  {
    name: "docker",
    check: (n, r) => (r.requireDocker && !n.dockerAvailable ? "Docker is not available on the node" : undefined),
  },
  {
    name: "docker_version",
    check: (n, r) =>
      r.minDockerVersion !== "" && (!n.dockerAvailable || compareVersions(n.dockerVersion, r.minDockerVersion) < 0)
        ? `needs Docker ${r.minDockerVersion}, node has ${n.dockerVersion || "none"}`
        : undefined,
  },
  {
    name: "tags",
    check: (n, r) => {
      if (r.requiredTags.length === 0 || r.requiredTags.every((t) => n.tags.has(t))) return undefined;
      return `lacks ${r.requiredTags.filter((t) => !n.tags.has(t)).join(", ")}`;
    },
  },
  {
    name: "labels",
    check: (n, r) => {
      for (const k in r.labels) {
        const v = r.labels[k];
        if (n.labels[k] !== v) return `label ${k}=${v} required, node has ${k}=${n.labels[k] ?? "(unset)"}`;
      }
      return undefined;
    },
  },
  {
    name: "constraints",
    check: (n, r) => {
      for (const c of r.constraints) {
        const value = n.labels[c.key];
        const ok =
          c.operator === "=" ? value === c.values[0]
          : c.operator === "!=" ? value !== c.values[0]
          : c.operator === "in" ? value !== undefined && c.values.includes(value)
          : c.operator === "not_in" ? value === undefined || !c.values.includes(value)
          : c.operator === "exists" ? value !== undefined
          : value === undefined;
        if (!ok) return `constraint ${[c.key, c.operator, c.values.join(",")].filter(Boolean).join(" ")} fails (node has ${value ?? "(unset)"})`;
      }
      return undefined;
    },
  },
  {
    name: "resources",
    check: (n, r, used) => resourcesReason(n, r, used),
  },
];

/** The filters that do not depend on what is already placed: checked once per node and request kind. */
export const STATIC_FILTERS: readonly Filter[] = FILTERS.filter((f) => f.name !== "resources");

const UNITS: ReadonlyArray<[keyof ResourceAmounts, string]> = [
  ["cpu", "CPU cores"],
  ["memoryMb", "MiB memory"],
  ["diskMb", "MiB disk"],
  ["gpus", "GPUs"],
];

/**
 * Whether the node told us its capacity. Agents that say hello with labels
 * only (Orion's) report none: their capacity is unknown, not zero, so the
 * resources filter cannot check them and lets them pass (explain says so).
 */
export function capacityKnown(n: NodeSnapshot): boolean {
  const c = n.capacity;
  return c.cpu > 0 || c.memoryMb > 0 || c.diskMb > 0 || c.gpus > 0;
}

/** What explain says about a node whose capacity is unknown. */
export const CAPACITY_NOT_CHECKED = "capacity not checked: the node reported none (agents that send labels only, such as Orion's)";

function resourcesReason(n: NodeSnapshot, r: PlacementRequirements, used: ResourceAmounts): string | undefined {
  if (!capacityKnown(n)) return undefined;
  const want = r.resources;
  for (const [key, unit] of UNITS) {
    if (want[key] <= 0) continue;
    const free = n.capacity[key] - used[key];
    if (free < want[key]) return `needs ${fmt(want[key])} ${unit}, ${fmt(Math.max(0, free))} free`;
  }
  return undefined;
}
