import { createHash } from "node:crypto";
import { ValidationError, type ValidationIssue } from "./errors.js";
import type { ServiceSpec } from "./service-spec.js";
import { cronProblems } from "./cron.js";

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TYPES = new Set(["node", "nextjs", "bun", "deno", "vite", "worker"]);
const RUNTIMES = new Set(["node", "bun", "deno"]);
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks every service of a config document (seed 003's rules), fills in its
 * defaults (path ".", type "node", entry "index.ts", runtime "node", replicas
 * 1), and reports all problems at once, as seed 003's API does.
 */
export function validateServices(services: ServiceSpec[], base = "spec.services"): ServiceSpec[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  const out = services.map((s, i) => {
    const at = (f: string) => `${base}[${i}].${f}`;
    const bad = (f: string, message: string) => issues.push({ path: at(f), message });
    if (!NAME.test(s.name)) bad("name", "must be 1-63 lowercase letters, digits and -");
    else if (seen.has(s.name)) bad("name", `"${s.name}" appears twice`);
    seen.add(s.name);
    const type = s.type || "node";
    if (!TYPES.has(type)) bad("type", `must be one of ${[...TYPES].join(", ")}`);
    const runtime = s.runtime || "node";
    if (!RUNTIMES.has(runtime)) bad("runtime", `must be one of ${[...RUNTIMES].join(", ")}`);
    if (!Number.isInteger(s.replicas) || s.replicas < 0) bad("replicas", "must be a whole number, at least 1");
    if (s.replicas > 1000) bad("replicas", "must be at most 1000");
    s.ports.forEach((p, j) => {
      if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) bad(`ports[${j}].port`, "must be 1-65535");
      if (p.targetPort !== 0 && (p.targetPort < 1 || p.targetPort > 65535)) bad(`ports[${j}].targetPort`, "must be 1-65535");
    });
    for (const k of Object.keys(s.env)) if (!ENV_KEY.test(k)) bad(`env.${k}`, "must be a variable name (letters, digits, _)");
    if (s.resources.cpu < 0 || !Number.isFinite(s.resources.cpu)) bad("resources.cpu", "must be at or above 0");
    if (s.resources.memory < 0 || !Number.isFinite(s.resources.memory)) bad("resources.memory", "must be at or above 0");
    if (s.command.trim() === "" && s.image === "" && !(s.entry || "index.ts")) bad("command", "a command, an image or an entry is required");
    if (s.update && (!Number.isInteger(s.update.maxParallel) || s.update.maxParallel < 0)) bad("update.maxParallel", "must be a whole number, at least 0 (0: the server's MAX_PARALLEL)");
    if (s.update && (!Number.isInteger(s.update.maxUnavailable) || s.update.maxUnavailable < 0)) bad("update.maxUnavailable", "must be a whole number, at least 0");
    // Issue 16: a schedule is checked by the cron library that runs it; a time zone needs a schedule.
    if (s.schedule) for (const p of cronProblems(s.schedule, s.scheduleTimeZone ?? "")) bad(p.field, p.message);
    else if (s.scheduleTimeZone) bad("scheduleTimeZone", "needs a schedule");
    const a = s.autoscaling;
    if (a?.enabled) {
      if (!Number.isInteger(a.minReplicas) || a.minReplicas < 1) bad("autoscaling.minReplicas", "must be a whole number, at least 1");
      if (!Number.isInteger(a.maxReplicas) || a.maxReplicas > 1000) bad("autoscaling.maxReplicas", "must be a whole number, at most 1000");
      if (a.minReplicas > a.maxReplicas) bad("autoscaling.minReplicas", "must not exceed maxReplicas");
      if (!(a.scaleUpThreshold > 0)) bad("autoscaling.scaleUpThreshold", "must be above 0 (CPU percent of the replica's request, or of its node without one)");
      if (!(a.scaleDownThreshold >= 0) || a.scaleDownThreshold >= a.scaleUpThreshold) bad("autoscaling.scaleDownThreshold", "must be at least 0 and below scaleUpThreshold");
      if (!Number.isInteger(a.scaleDownDelaySeconds) || a.scaleDownDelaySeconds < 0) bad("autoscaling.scaleDownDelaySeconds", "must be a whole number of seconds, at least 0");
    }
    return {
      ...s,
      path: s.path || ".",
      type,
      entry: s.entry || "index.ts",
      runtime,
      replicas: s.replicas || 1,
      ports: s.ports.map((p) => ({ ...p, protocol: p.protocol === "udp" ? "udp" : "tcp" })) as ServiceSpec["ports"],
      placement: {
        ...s.placement,
        // Replicas run as processes (or containers, with an image): only agents that can, qualify.
        requiredTags: [...new Set([...s.placement.requiredTags, s.image ? "docker" : "process"])],
        resources: { ...s.placement.resources, cpu: s.placement.resources.cpu || s.resources.cpu, memoryMb: s.placement.resources.memoryMb || Math.ceil(s.resources.memory) },
      },
    };
  });
  if (issues.length) throw new ValidationError("Invalid configuration", issues);
  return out;
}

/** A stable hash of a spec: replicas are launched anew when it changes, not when replicas, autoscaling or the update policy alone change. */
export function specHash(s: ServiceSpec): string {
  const { replicas: _replicas, autoscaling: _autoscaling, update: _update, ...rest } = s;
  return createHash("sha256").update(stableJson(rest)).digest("hex").slice(0, 16);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}
