import { createHash } from "node:crypto";
import { InvalidArgumentError } from "./errors.js";
import { optionalText, requireId } from "./validate.js";

const PROJECT = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_COMPOSE = 1 << 20;

/** A compose project name (Docker Compose's own rule). */
export function requireProjectName(field: string, name: string): string {
  if (!PROJECT.test(name)) {
    throw new InvalidArgumentError(field, "must be 1-63 lowercase letters, digits, - and _, starting with a letter or digit");
  }
  return name;
}

/** A project name derived from a deployment id. */
export function projectNameFor(deploymentId: string): string {
  const p = deploymentId.toLowerCase().replace(/[^a-z0-9_-]/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 63);
  return p || "project";
}

/** A compose file: present, bounded, and a YAML mapping with a services key (checked cheaply). */
export function requireCompose(field: string, compose: string): string {
  if (compose.trim() === "") throw new InvalidArgumentError(field, "is required");
  if (Buffer.byteLength(compose) > MAX_COMPOSE) throw new InvalidArgumentError(field, "must be at most 1 MiB");
  if (!/^services\s*:/m.test(compose) && !/^\s*\{/.test(compose)) {
    throw new InvalidArgumentError(field, "is not a compose file: it has no top-level services key");
  }
  return compose;
}

/** Environment variables: names like POSTGRES_PASSWORD, values bounded. */
export function validateEnv(field: string, env: Record<string, string>): Record<string, string> {
  const entries = Object.entries(env);
  if (entries.length > 256) throw new InvalidArgumentError(field, "must have at most 256 entries");
  for (const [k, v] of entries) {
    if (!ENV_KEY.test(k)) throw new InvalidArgumentError(`${field}.${k}`, "must be a variable name (letters, digits, _)");
    if (v.length > 32_768) throw new InvalidArgumentError(`${field}.${k}`, "must be at most 32768 characters");
  }
  return env;
}

/** The deployment id: given, or derived from the project name. */
export function deploymentIdFor(given: string, projectName: string): string {
  return requireId("deployment_id", given || projectName);
}

/** SHA-256 hex of a compose file. */
export function composeHash(compose: string): string {
  return createHash("sha256").update(compose).digest("hex");
}

/** Template ids are free text, bounded. */
export function optionalTemplate(id: string): string {
  return optionalText("template_id", id, 128);
}
