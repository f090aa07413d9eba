import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { BlockList, isIP } from "node:net";
import * as z from "zod/mini";
import type { AnonymousScope } from "../model/principal.js";
import { parseDuration } from "../model/duration.js";

/** Capstan's configuration: parsed once from the environment, validated, frozen. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Unset: embedded SQLite in ./data/capstan.db. */
  readonly databaseUrl: string | undefined;
  /**
   * REPLICA_ID: this process's name among the replicas on one database (the
   * origin of the changes it writes). Default: host name and process id.
   */
  readonly replicaId: string;
  /**
   * ADVERTISE_URL: where the other replicas reach this one (http:// or
   * https://, scheme, host and port only). Default: http(s)://hostname:PORT.
   */
  readonly advertiseUrl: string;
  /**
   * CLUSTER_SECRET: authenticates calls one replica forwards to another (chunk
   * reports and lookups to the chunk owner) with their original caller.
   * Required with PostgreSQL; unused by one SQLite process.
   */
  readonly clusterSecret: string | undefined;
  readonly heartbeatTtlMs: number;
  readonly heartbeatFlushMs: number;
  /** Heartbeat metrics kept per node for charts: how far back, and at most one sample per step. */
  readonly heartbeatHistory: { readonly windowMs: number; readonly stepMs: number };
  /** WatchEvents: a heartbeat after this long without an event; a watcher this many changes behind is cut off. */
  readonly events: { readonly heartbeatMs: number; readonly maxLag: number };
  /** How long the change feed keeps changes: a watcher (or a replica) further behind must list (reload) again. */
  readonly feedRetentionMs: number;
  readonly shutdownTimeoutMs: number;
  /** How often the service reconciler runs (it also runs soon after changes). */
  readonly reconcileIntervalMs: number;
  /** How long past the heartbeat TTL a node may be offline before its replicas move. */
  readonly replicaGraceMs: number;
  /** At most this many replicas of one service start at once. */
  readonly maxParallel: number;
  /** Tasks (issue 16): a task's default run time limit; failed launches' retry delay, doubling up to the max. */
  readonly tasks: { readonly timeoutMs: number; readonly launchBackoffMs: number; readonly launchBackoffMaxMs: number };
  /** At least this long between two autoscaler changes of one service. */
  readonly autoscaleCooldownMs: number;
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
  /**
   * TRUSTED_PROXIES: load balancers whose PROXY protocol header names the real
   * caller (undefined: none, and no header is believed).
   */
  readonly trustedProxies: BlockList | undefined;
  /** ALLOWED_HOSTS: Host names served besides IP literals, single-label and local-only names, HOST, PUBLIC_URL's and the machine's names. */
  readonly allowedHosts: readonly string[];
  /** Security: dev mode, tokens, anonymous grants, mutual TLS. */
  readonly auth: AuthConfig;
  /** Limits that keep one client from pinning the server. */
  readonly limits: LimitsConfig;
  /**
   * GRPC_FAST_PATHS (default on): plain binary gRPC chunk lookups and agent
   * streams are served by src/rpc/grpc-fast-path.ts; off, every call goes
   * through connect-node (to rule the fast paths out when diagnosing a client).
   */
  readonly grpcFastPaths: boolean;
  /** LEADER_LEASE: how long the leader's lease lasts unrenewed; bounds failover after the leader dies or pauses. */
  readonly leaderLeaseMs: number;
  /** Prometheus metrics at GET /metrics (METRICS, default on); off: no registry, no recording, /metrics is 404. */
  readonly metrics: boolean;
  /** DASHBOARD_DIR: the web dashboard's built files (default: dist/ui of this installation). */
  readonly dashboardDir: string | undefined;
}

/** Who gets in without a token, and how the first admin token is made. */
export interface AuthConfig {
  /** CAPSTAN_DEV=1: token-less callers on loopback may do anything. */
  readonly dev: boolean;
  /** CAPSTAN_ADMIN_TOKEN: an admin token's secret, made at start if the store lacks it. */
  readonly adminToken: string | undefined;
  /** CAPSTAN_ANONYMOUS_SCOPES: what token-less callers may do (default: nothing). */
  readonly anonymousScopes: ReadonlySet<AnonymousScope>;
  /** CAPSTAN_ANONYMOUS_NETWORKS: where token-less callers may come from (default: anywhere, once scopes are granted). */
  readonly anonymousNetworks: BlockList | undefined;
  readonly anonymousNetworksText: string;
  /** TLS_CLIENT_CA: PEM CA; when set, agents must present a client certificate naming their node. */
  readonly clientCa: Buffer | undefined;
}

/** Per-call and per-client limits. */
export interface LimitsConfig {
  /** Largest request message or REST body, in bytes. */
  readonly maxMessageBytes: number;
  /** Calls per second per client (token, node or address); 0: unlimited. */
  readonly ratePerSecond: number;
  /** Failed authentications per address per minute before the address gets 429; 0: unlimited. */
  readonly authFailuresPerMinute: number;
  /** Longest a unary call may run. */
  readonly rpcTimeoutMs: number;
  /** Open streaming calls, in total and per client. */
  readonly maxStreams: number;
  readonly maxStreamsPerClient: number;
  /** Log bytes kept per job (the tail). */
  readonly jobLogBytes: number;
}

/** A configuration problem, naming the environment variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

// zod/mini: the same validation as zod's classic API in a tenth of the code loaded at
// start-up (its classic build alone cost about 0.1 s of CPU before the first request).
// Each kind of value says what it accepts, so a bad variable's message is clear.

/** A whole number in [min, max] (from text), with a default. */
const whole = (min: number, max: number, fallback: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z._default(z.coerce.number({ message }).check(z.refine(Number.isInteger, { message }), z.minimum(min, { message }), z.maximum(max, { message })), fallback);
};

/** A duration such as 15s, 500ms or 2m, in milliseconds. */
const duration = (fallback: number) =>
  z._default(
    z.pipe(
      z.string(),
      z.transform((text: string, ctx) => {
        const ms = parseDuration(text);
        if (ms === undefined || ms <= 0) {
          ctx.issues.push({ code: "custom", message: `"${text}" is not a duration such as 15s, 500ms or 2m`, input: text });
          return z.NEVER;
        }
        return ms;
      }),
    ),
    fallback,
  );

/** One of a fixed set of words. */
const choice = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number], message = `must be one of ${values.join(", ")}`) =>
  z._default(z.enum(values, { message }), fallback);

/** On or off. */
const flag = (fallback: "0" | "1") => choice(["0", "1", "true", "false"], fallback, "must be 1, 0, true or false");

/** A shared secret: optional, at least 16 characters. */
const secret = () => z.optional(z.string().check(z.minLength(16, { message: "must be at least 16 characters" })));

/** Free text (lists are split and checked after parsing), with a default. */
const text = (fallback: string) => z._default(z.string(), fallback);

const schema = z.object({
  HOST: z._default(z.string().check(z.minLength(1)), "0.0.0.0"),
  PORT: whole(0, 65535, 8080),
  DATABASE_URL: z.optional(
    z.string().check(z.refine((u) => u === "" || /^(file:|postgres(ql)?:\/\/)/.test(u), { message: "must start with file:, postgresql:// or postgres://" })),
  ),
  REPLICA_ID: z.optional(
    z.string().check(z.refine((id) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(id), { message: "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit" })),
  ),
  ADVERTISE_URL: z.optional(
    z.string().check(
      z.refine((u) => /^https?:\/\/[^/?#\s]+\/?$/.test(u) && URL.canParse(u), {
        message: "must be an http:// or https:// URL naming a host and port only, such as http://10.0.0.5:8080 (no path, query or fragment)",
      }),
    ),
  ),
  HEARTBEAT_TTL: duration(15_000),
  HEARTBEAT_FLUSH_INTERVAL: duration(10_000),
  HEARTBEAT_HISTORY: duration(10 * 60_000),
  HEARTBEAT_HISTORY_STEP: duration(10_000),
  SHUTDOWN_TIMEOUT: duration(10_000),
  RECONCILE_INTERVAL: duration(2_000),
  REPLICA_GRACE: duration(30_000),
  MAX_PARALLEL: whole(1, 1000, 2),
  TASK_TIMEOUT: duration(3_600_000),
  LAUNCH_BACKOFF: duration(1_000),
  LAUNCH_BACKOFF_MAX: duration(300_000),
  AUTOSCALE_COOLDOWN: duration(30_000),
  CHUNK_REPLICATION: whole(1, 100, 3),
  CHUNK_MONITOR_INTERVAL: duration(5_000),
  CHUNK_COMMANDS_PER_NODE: whole(1, 10_000, 10),
  CHUNK_SPREAD_LABEL: text("zone"),
  LOG_LEVEL: choice(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
  LOG_FORMAT: choice(["json", "pretty", "auto"], "auto"),
  TLS_CERT: z.optional(z.string()),
  TLS_KEY: z.optional(z.string()),
  PUBLIC_URL: z.optional(z.url({ message: "must be a URL such as https://cp.example.com" })),
  CAPSTAN_JOIN_TOKEN: secret(),
  AGENT_SECRET_TOKEN: secret(),
  CORS_ORIGINS: text(""),
  TRUSTED_PROXIES: text(""),
  ALLOWED_HOSTS: text(""),
  CAPSTAN_DEV: flag("0"),
  CAPSTAN_ADMIN_TOKEN: secret(),
  CLUSTER_SECRET: secret(),
  CAPSTAN_ANONYMOUS_SCOPES: text(""),
  CAPSTAN_ANONYMOUS_NETWORKS: text(""),
  TLS_CLIENT_CA: z.optional(z.string()),
  MAX_MESSAGE_BYTES: whole(1024, 1 << 30, 4 << 20),
  RATE_LIMIT: whole(0, 1_000_000, 200),
  AUTH_FAILURE_LIMIT: whole(0, 1_000_000, 30),
  RPC_TIMEOUT: duration(60_000),
  EVENTS_HEARTBEAT: duration(15_000),
  EVENTS_MAX_LAG: whole(100, 10_000_000, 10_000),
  EVENTS_RETENTION: duration(60 * 60_000),
  MAX_STREAMS: whole(1, 1_000_000, 20_000),
  MAX_STREAMS_PER_CLIENT: whole(1, 1_000_000, 100),
  JOB_LOG_BYTES: whole(1024, 64 << 20, 64 * 1024),
  GRPC_FAST_PATHS: flag("1"),
  LEADER_LEASE: duration(6_000),
  METRICS: choice(["on", "off", "1", "0", "true", "false"], "on", "must be on, off, 1, 0, true or false"),
  DASHBOARD_DIR: z.optional(z.string().check(z.minLength(1, { message: "must be a folder" }))),
});

const ANONYMOUS_SCOPES = new Set<AnonymousScope>(["read", "write", "node"]);

function parseAnonymousScopes(text: string): Set<AnonymousScope> {
  const scopes = new Set<AnonymousScope>();
  for (const word of text.split(",").map((w) => w.trim()).filter(Boolean)) {
    if (!ANONYMOUS_SCOPES.has(word as AnonymousScope)) {
      throw new ConfigError("CAPSTAN_ANONYMOUS_SCOPES", `"${word}" is not one of read, write, node (admin is never anonymous)`);
    }
    scopes.add(word as AnonymousScope);
  }
  return scopes;
}

function parseAllowedHosts(text: string): string[] {
  const words = text.split(",").map((w) => w.trim().toLowerCase()).filter(Boolean);
  for (const word of words) {
    if (word !== "*" && !/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(word)) {
      throw new ConfigError("ALLOWED_HOSTS", `"${word}" is not a host name (cp.example.com), a suffix (.example.com) or *`);
    }
  }
  return words;
}

function parseNetworks(variable: string, text: string): BlockList | undefined {
  const words = text.split(",").map((w) => w.trim()).filter(Boolean);
  if (words.length === 0) return undefined;
  const list = new BlockList();
  for (const word of words) {
    const [address, bits] = word.split("/");
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new ConfigError(variable, `"${word}" is not an address or CIDR such as 10.0.0.0/8 or fd00::/8`);
    }
    list.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
  }
  return list;
}

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
  if (e.DATABASE_URL && /^postgres/.test(e.DATABASE_URL) && !e.CLUSTER_SECRET) {
    throw new ConfigError("CLUSTER_SECRET", "must be set (the same on every replica) with a PostgreSQL DATABASE_URL: replicas authenticate the calls they forward to each other with it");
  }
  if (e.TLS_CLIENT_CA && !e.TLS_CERT) throw new ConfigError("TLS_CLIENT_CA", "needs TLS_CERT and TLS_KEY: client certificates are only asked for over TLS");
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL || undefined,
    replicaId: e.REPLICA_ID ?? defaultReplicaId(),
    clusterSecret: e.CLUSTER_SECRET,
    advertiseUrl: e.ADVERTISE_URL?.replace(/\/$/, "") ?? `${e.TLS_CERT ? "https" : "http"}://${hostname()}:${e.PORT}`,
    heartbeatTtlMs: e.HEARTBEAT_TTL,
    heartbeatFlushMs: e.HEARTBEAT_FLUSH_INTERVAL,
    heartbeatHistory: Object.freeze({ windowMs: e.HEARTBEAT_HISTORY, stepMs: e.HEARTBEAT_HISTORY_STEP }),
    events: Object.freeze({ heartbeatMs: e.EVENTS_HEARTBEAT, maxLag: e.EVENTS_MAX_LAG }),
    feedRetentionMs: e.EVENTS_RETENTION,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    reconcileIntervalMs: e.RECONCILE_INTERVAL,
    replicaGraceMs: e.REPLICA_GRACE,
    maxParallel: e.MAX_PARALLEL,
    tasks: Object.freeze({ timeoutMs: e.TASK_TIMEOUT, launchBackoffMs: e.LAUNCH_BACKOFF, launchBackoffMaxMs: e.LAUNCH_BACKOFF_MAX }),
    autoscaleCooldownMs: e.AUTOSCALE_COOLDOWN,
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
    trustedProxies: parseNetworks("TRUSTED_PROXIES", e.TRUSTED_PROXIES),
    allowedHosts: Object.freeze(parseAllowedHosts(e.ALLOWED_HOSTS)),
    auth: Object.freeze({
      dev: e.CAPSTAN_DEV === "1" || e.CAPSTAN_DEV === "true",
      adminToken: e.CAPSTAN_ADMIN_TOKEN,
      anonymousScopes: parseAnonymousScopes(e.CAPSTAN_ANONYMOUS_SCOPES),
      anonymousNetworks: parseNetworks("CAPSTAN_ANONYMOUS_NETWORKS", e.CAPSTAN_ANONYMOUS_NETWORKS),
      anonymousNetworksText: e.CAPSTAN_ANONYMOUS_NETWORKS,
      clientCa: e.TLS_CLIENT_CA ? readPem("TLS_CLIENT_CA", e.TLS_CLIENT_CA) : undefined,
    }),
    limits: Object.freeze({
      maxMessageBytes: e.MAX_MESSAGE_BYTES,
      ratePerSecond: e.RATE_LIMIT,
      authFailuresPerMinute: e.AUTH_FAILURE_LIMIT,
      rpcTimeoutMs: e.RPC_TIMEOUT,
      maxStreams: e.MAX_STREAMS,
      maxStreamsPerClient: e.MAX_STREAMS_PER_CLIENT,
      jobLogBytes: e.JOB_LOG_BYTES,
    }),
    grpcFastPaths: e.GRPC_FAST_PATHS === "1" || e.GRPC_FAST_PATHS === "true",
    leaderLeaseMs: e.LEADER_LEASE,
    metrics: e.METRICS === "on" || e.METRICS === "1" || e.METRICS === "true",
    dashboardDir: e.DASHBOARD_DIR,
  });
}

/** The host name (cut to a valid id) and process id: unique per process on one machine. */
function defaultReplicaId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 48) || "replica";
  return `${host}-${process.pid}`;
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
