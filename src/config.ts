import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseDuration } from "./domain/duration.js";

/** Capstan's configuration: parsed once from the environment, validated, frozen. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Unset: embedded SQLite in ./data/capstan.db. */
  readonly databaseUrl: string | undefined;
  readonly heartbeatTtlMs: number;
  readonly heartbeatFlushMs: number;
  readonly shutdownTimeoutMs: number;
  /** How often the service reconciler runs (it also runs soon after changes). */
  readonly reconcileIntervalMs: number;
  /** How long past the heartbeat TTL a node may be offline before its replicas move. */
  readonly replicaGraceMs: number;
  /** At most this many replicas of one service start at once. */
  readonly maxParallel: number;
  /** Chunk index: default replication target, monitor period, commands per node per round, failure-domain label. */
  readonly chunks: { readonly replication: number; readonly intervalMs: number; readonly perNodeLimit: number; readonly spreadLabel: string };
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Pretty logs for people at a terminal; JSON otherwise. */
  readonly logPretty: boolean;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** The URL agents are told to use (RegisterNode's control_plane_url). */
  readonly publicUrl: string | undefined;
  /** Join token for first registrations; unset means open registration. */
  readonly joinToken: string | undefined;
  readonly corsOrigins: readonly string[];
}

/** A configuration problem, naming the environment variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a duration such as 15s, 500ms or 2m` });
    return z.NEVER;
  }
  return ms;
});

const schema = z.object({
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z
    .string()
    .optional()
    .refine((u) => u === undefined || u === "" || /^(file:|postgres(ql)?:\/\/)/.test(u), {
      message: "must start with file:, postgresql:// or postgres://",
    }),
  HEARTBEAT_TTL: duration.default(15_000),
  HEARTBEAT_FLUSH_INTERVAL: duration.default(10_000),
  SHUTDOWN_TIMEOUT: duration.default(10_000),
  RECONCILE_INTERVAL: duration.default(2_000),
  REPLICA_GRACE: duration.default(30_000),
  MAX_PARALLEL: z.coerce.number().int().min(1).max(1000).default(2),
  CHUNK_REPLICATION: z.coerce.number().int().min(1).max(100).default(3),
  CHUNK_MONITOR_INTERVAL: duration.default(5_000),
  CHUNK_COMMANDS_PER_NODE: z.coerce.number().int().min(1).max(10_000).default(10),
  CHUNK_SPREAD_LABEL: z.string().default("zone"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty", "auto"]).default("auto"),
  TLS_CERT: z.string().optional(),
  TLS_KEY: z.string().optional(),
  PUBLIC_URL: z.url().optional(),
  CAPSTAN_JOIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  AGENT_SECRET_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  CORS_ORIGINS: z.string().default(""),
});

/**
 * Reads and validates the configuration. Throws ConfigError naming the first
 * bad variable, so the server stops before it opens anything.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, isTty = Boolean(process.stdout.isTTY)): Config {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(defined);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue.path[0] ?? "environment"), issue.message);
  }
  const e = parsed.data;
  if (Boolean(e.TLS_CERT) !== Boolean(e.TLS_KEY)) {
    throw new ConfigError(e.TLS_CERT ? "TLS_KEY" : "TLS_CERT", "TLS_CERT and TLS_KEY must be set together");
  }
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL || undefined,
    heartbeatTtlMs: e.HEARTBEAT_TTL,
    heartbeatFlushMs: e.HEARTBEAT_FLUSH_INTERVAL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    reconcileIntervalMs: e.RECONCILE_INTERVAL,
    replicaGraceMs: e.REPLICA_GRACE,
    maxParallel: e.MAX_PARALLEL,
    chunks: Object.freeze({
      replication: e.CHUNK_REPLICATION,
      intervalMs: e.CHUNK_MONITOR_INTERVAL,
      perNodeLimit: e.CHUNK_COMMANDS_PER_NODE,
      spreadLabel: e.CHUNK_SPREAD_LABEL,
    }),
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_FORMAT === "pretty" || (e.LOG_FORMAT === "auto" && isTty),
    tls: e.TLS_CERT && e.TLS_KEY ? { cert: readPem("TLS_CERT", e.TLS_CERT), key: readPem("TLS_KEY", e.TLS_KEY) } : undefined,
    publicUrl: e.PUBLIC_URL,
    joinToken: e.CAPSTAN_JOIN_TOKEN ?? e.AGENT_SECRET_TOKEN,
    corsOrigins: Object.freeze(e.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean)),
  });
}

function readPem(variable: string, path: string): Buffer {
  try {
    const pem = readFileSync(path);
    if (!pem.includes("-----BEGIN")) throw new Error("not PEM");
    return pem;
  } catch (err) {
    throw new ConfigError(variable, `cannot read a PEM file at "${path}" (${(err as Error).message})`);
  }
}
