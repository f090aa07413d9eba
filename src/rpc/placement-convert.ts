import { create } from "@bufbuild/protobuf";
import {
  PlacementRequirementsSchema,
  PlacementStrategy as PbStrategy,
  type PlacementRequirements as PbRequirements,
} from "../../gen/proto/capstan/v1/placement_pb.js";
import { InvalidArgumentError } from "../model/errors.js";
import type { LabelConstraint, PlacementRequirements, PlacementStrategy } from "../model/placement.js";

const strategies: Record<number, PlacementStrategy | undefined> = {
  [PbStrategy.UNSPECIFIED]: undefined,
  [PbStrategy.ROUND_ROBIN]: "round_robin",
  [PbStrategy.SPREAD]: "spread",
  [PbStrategy.BINPACK]: "binpack",
};

const operators = new Set(["=", "!=", "in", "not_in", "exists", "not_exists"]);

/** Proto requirements to domain; field names in errors are prefixed with `field`. */
export function requirementsFromProto(r: PbRequirements | undefined, field: string): PlacementRequirements {
  if (!((r?.strategy ?? 0) in strategies)) throw new InvalidArgumentError(`${field}.strategy`, "unknown strategy");
  const constraints = (r?.constraints ?? []).map((c, i): LabelConstraint => {
    if (!operators.has(c.operator)) {
      throw new InvalidArgumentError(`${field}.constraints[${i}].operator`, `must be one of ${[...operators].join(", ")}`);
    }
    const at = `${field}.constraints[${i}]`;
    if (c.key === "") throw new InvalidArgumentError(`${at}.key`, "is required");
    // "=" with no value would match nodes without the label; with two it would silently use the first.
    const n = c.values.length;
    if ((c.operator === "=" || c.operator === "!=") && n !== 1) throw new InvalidArgumentError(`${at}.values`, `"${c.operator}" takes exactly one value, got ${n} (use "in" or "not_in" for several)`);
    if ((c.operator === "in" || c.operator === "not_in") && n === 0) throw new InvalidArgumentError(`${at}.values`, `"${c.operator}" takes at least one value`);
    if ((c.operator === "exists" || c.operator === "not_exists") && n !== 0) throw new InvalidArgumentError(`${at}.values`, `"${c.operator}" takes no values`);
    return { key: c.key, operator: c.operator as LabelConstraint["operator"], values: [...c.values] };
  });
  return {
    resources: {
      cpu: r?.resources?.cpu ?? 0,
      memoryMb: r?.resources?.memoryMb ?? 0,
      diskMb: r?.resources?.diskMb ?? 0,
      gpus: r?.resources?.gpus ?? 0,
    },
    requiredTags: [...(r?.requiredTags ?? [])],
    labels: { ...(r?.labels ?? {}) },
    constraints,
    requireDocker: r?.requireDocker ?? false,
    minDockerVersion: r?.minDockerVersion ?? "",
    strategy: strategies[r?.strategy ?? 0],
    weights: {
      cpu: r?.weights?.cpu ?? 0,
      memory: r?.weights?.memory ?? 0,
      disk: r?.weights?.disk ?? 0,
      spread: r?.weights?.spread ?? 0,
      locality: r?.weights?.locality ?? 0,
    },
    spreadLabel: r?.spreadLabel ?? "",
    chunkIds: chunkIdsFrom(r?.chunkIds ?? [], `${field}.chunk_ids`),
  };
}

/** Domain requirements to proto. */
export function requirementsToProto(r: PlacementRequirements): PbRequirements {
  const strategy = Object.entries(strategies).find(([, s]) => s === r.strategy)?.[0];
  return create(PlacementRequirementsSchema, {
    resources: r.resources,
    requiredTags: r.requiredTags,
    labels: r.labels,
    constraints: r.constraints,
    requireDocker: r.requireDocker,
    minDockerVersion: r.minDockerVersion,
    strategy: Number(strategy ?? 0),
    weights: { ...r.weights, locality: r.weights.locality ?? 0 },
    spreadLabel: r.spreadLabel,
    chunkIds: r.chunkIds ?? [],
  });
}

/** At most this many chunk ids per request: a decision reads each one's holders. */
export const MAX_CHUNK_IDS = 10_000;

/** The wanted chunk ids, deduplicated; an empty id or too many is refused, naming the field. */
function chunkIdsFrom(ids: readonly string[], field: string): string[] {
  if (ids.length > MAX_CHUNK_IDS) throw new InvalidArgumentError(field, `at most ${MAX_CHUNK_IDS} chunk ids, got ${ids.length}`);
  const i = ids.findIndex((id) => id.trim() === "");
  if (i >= 0) throw new InvalidArgumentError(`${field}[${i}]`, "must not be empty");
  return [...new Set(ids)];
}
