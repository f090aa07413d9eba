import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The CLUSTER_SECRET every server process a test starts shares (override it with options.env). */
export const TEST_CLUSTER_SECRET = "test-cluster-secret-0123456789";

// The repository root: `--import tsx` and src/main.ts resolve from here, wherever the test runs.
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A real Capstan server running in a child process (`node --import tsx src/main.ts`). */
export interface ServerProcess {
  /** http://127.0.0.1:port */
  readonly url: string;
  /** The port the server bound (it starts with PORT=0). */
  readonly port: number;
  /** The admin token the server was started with (CAPSTAN_ADMIN_TOKEN). */
  readonly adminToken: string;
  /** The SQLite file the server writes (DATABASE_URL=file:dbPath). */
  readonly dbPath: string;
  /** Every stdout and stderr line so far, in arrival order (stdout lines are JSON logs). */
  readonly logs: readonly string[];
  /** The exit code, or the signal name, once the process has exited; undefined while it runs. */
  readonly exitCode: number | string | undefined;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Sends SIGTERM and resolves once the process has exited (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal (SIGKILL: a crash) and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Sends a signal that does not end the process (SIGSTOP, SIGCONT) and returns at once. */
  signal(signal: NodeJS.Signals): void;
}

/** How to start the server process. */
export interface ServerProcessOptions {
  /** The SQLite file to use (a fresh one in a temporary directory by default). */
  dbPath?: string;
  /** Extra environment, applied over the defaults (which are listed in startServerProcess). */
  env?: Record<string, string>;
  /** Node's arguments: the TypeScript sources through tsx by default; a test of the bundle passes its file. */
  entry?: string[];
  /** Give up when "capstan listening" has not been logged within this time. Default 30 s. */
  startTimeoutMs?: number;
}

/**
 * Starts the real server as a child process with PORT=0, HOST=127.0.0.1,
 * JSON logs at info level, a fresh SQLite file in a temporary directory, a
 * random admin token, dev mode and rate limits off, and heartbeat timers long
 * enough (1h) that no background flush runs during a test; `options.env`
 * overrides any of these. Resolves once the server logs "capstan listening";
 * rejects (with the output so far) if it exits or stays silent first.
 */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "capstan-proc-"));
  const dbPath = options.dbPath ?? join(dir, "c.db");
  const adminToken = options.env?.CAPSTAN_ADMIN_TOKEN ?? `fuzz-admin-${randomBytes(24).toString("hex")}`;
  const env: Record<string, string> = {
    ...stripCapstanEnv(process.env),
    PORT: "0",
    HOST: "127.0.0.1",
    // Required with PostgreSQL; the same for every process a test starts, so its replicas trust each other.
    CLUSTER_SECRET: TEST_CLUSTER_SECRET,
    LOG_FORMAT: "json",
    LOG_LEVEL: "info",
    DATABASE_URL: `file:${dbPath}`,
    CAPSTAN_ADMIN_TOKEN: adminToken,
    CAPSTAN_DEV: "0",
    RATE_LIMIT: "0",
    AUTH_FAILURE_LIMIT: "0",
    HEARTBEAT_TTL: "1h",
    HEARTBEAT_FLUSH_INTERVAL: "1h",
    ...options.env,
  };
  const child = spawn(process.execPath, options.entry ?? ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  let exitCode: number | string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code ?? signal ?? "unknown";
      resolve();
    });
  });
  const listening = new Promise<{ port: number; url: string }>((resolve) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      logs.push(line);
      const entry = parseJson(line);
      if (entry?.msg === "capstan listening" && typeof entry.port === "number" && typeof entry.url === "string") {
        resolve({ port: entry.port, url: entry.url });
      }
    });
  });
  createInterface({ input: child.stderr! }).on("line", (line) => logs.push(line));

  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const started = await Promise.race([
    listening,
    exited.then(() => undefined),
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (!started) {
    await stopChild(child, exited, 2_000);
    throw new Error(`capstan did not start (exit ${String(exitCode ?? "none")} after ${timeoutMs} ms at most):\n${logs.join("\n")}`);
  }
  return {
    url: started.url,
    port: started.port,
    adminToken,
    dbPath,
    logs,
    get exitCode() {
      return exitCode;
    },
    alive: () => exitCode === undefined,
    stop: (graceMs = 10_000) => stopChild(child, exited, graceMs),
    kill: (signal) => {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
    signal: (signal) => {
      if (exitCode === undefined) child.kill(signal);
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill("SIGTERM");
  const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(kill);
}

// A developer's own shell settings (a join token, TLS files) must not change what the tests start.
function stripCapstanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  const own = /^(CAPSTAN_|AGENT_SECRET_TOKEN$|TLS_|DATABASE_URL$|PUBLIC_URL$|CORS_ORIGINS$|ALLOWED_HOSTS$|RATE_LIMIT$|AUTH_FAILURE_LIMIT$|MAX_|RPC_TIMEOUT$|JOB_LOG_BYTES$|HEARTBEAT_|REPLICA_GRACE$|RECONCILE_INTERVAL$|CHUNK_|SHUTDOWN_TIMEOUT$|LOG_|REPLICA_ID$|ADVERTISE_URL$|LEADER_LEASE$|CLUSTER_SECRET$)/;
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !own.test(k)) out[k] = v;
  return out;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
