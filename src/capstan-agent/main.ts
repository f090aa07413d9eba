import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { REDACT_PATHS } from "../shared/logger.js";
import { version } from "../shared/version.js";
import { AgentConnection } from "./connection.js";
import { ComposeDriver } from "./drivers/compose-driver.js";
import { ProcessDriver } from "./drivers/process-driver.js";
import { Executor } from "./executor.js";
import { hostFacts } from "./host-facts.js";
import { ensurePrivateDir } from "./state-file.js";

const USAGE = `capstan-agent: connects this machine to a Capstan control plane and runs its commands.

Usage: capstan-agent --server URL [--server URL...] [--join-token TOKEN] [options]

  --server URL         control plane, e.g. http://cp.example:8080 (env CAPSTAN_SERVER);
                       repeatable or comma-separated: its replicas, tried in turn, the
                       next when one is gone
  --join-token TOKEN   cluster join token for the first registration (env CAPSTAN_JOIN_TOKEN)
  --state-dir DIR      where the node id and token are kept (default ~/.capstan-agent)
  --workdir DIR        where process replicas run (default: the current directory)
  --name NAME          node name (default: the host name)
  --label K=V          a node label; repeatable
  --tag TAG            a capability tag, e.g. gpu; repeatable ("process" is always added,
                       "docker" and "compose" when Docker answers)
  --ca FILE            PEM CA bundle to trust for an https:// server
  --cert FILE          PEM client certificate naming this node, for servers with TLS_CLIENT_CA
  --key FILE           its PEM private key
  --max-backoff MS     longest wait between reconnects in milliseconds (default 120000)
  --log-level LEVEL    fatal, error, warn, info (default), debug
`;

/** Parses argv and runs the agent until SIGINT/SIGTERM. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string", multiple: true },
      "join-token": { type: "string" },
      "state-dir": { type: "string" },
      workdir: { type: "string" },
      name: { type: "string" },
      label: { type: "string", multiple: true },
      tag: { type: "string", multiple: true },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      "max-backoff": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const servers = serverUrls(values.server ?? (process.env.CAPSTAN_SERVER ? [process.env.CAPSTAN_SERVER] : []));
  const labels = Object.fromEntries(
    (values.label ?? []).map((l) => {
      const eq = l.indexOf("=");
      if (eq <= 0) throw new Error(`--label: "${l}" is not key=value`);
      return [l.slice(0, eq), l.slice(eq + 1)];
    }),
  );
  const logger = pino({ level: values["log-level"] ?? "info", base: { service: "capstan-agent" }, redact: REDACT_PATHS });
  const stateDir = resolve(values["state-dir"] ?? join(homedir(), ".capstan-agent"));
  await ensurePrivateDir(stateDir);
  const facts = await hostFacts(stateDir);
  for (const note of facts.notes) logger.warn(note);
  const compose = new ComposeDriver(join(stateDir, "projects"));
  const processes = new ProcessDriver(resolve(values.workdir ?? process.cwd()));
  let connection: AgentConnection | undefined;
  const executor: Executor = new Executor(
    compose,
    processes,
    (update) => connection?.send({ case: "commandUpdate", value: update }),
    (): Record<string, unknown> => ({ healthy: true, version, dockerAvailable: facts.dockerAvailable, running: executor.running() }),
  );
  connection = new AgentConnection(
    {
      servers,
      joinToken: values["join-token"] ?? process.env.CAPSTAN_JOIN_TOKEN ?? "",
      stateDir,
      name: values.name ?? facts.hostname,
      labels,
      tags: [...new Set([...(values.tag ?? []), "process", "task", ...(facts.dockerAvailable ? ["docker", "compose"] : [])])],
      version,
      facts,
      ca: values.ca ? readFileSync(values.ca) : undefined,
      clientCert: clientCertificate(values.cert, values.key),
      maxBackoffMs: values["max-backoff"] ? positive("--max-backoff", values["max-backoff"]) : undefined,
      minBackoffMs: values["max-backoff"] ? Math.min(1000, positive("--max-backoff", values["max-backoff"])) : undefined,
    },
    executor,
    logger,
  );
  const shutdown = (signal: string) => {
    logger.info({ signal }, "stopping");
    connection?.stop();
    void processes.stopAll().finally(() => process.exit(0));
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  logger.info({ servers, stateDir, name: values.name ?? facts.hostname }, "capstan-agent starting");
  await connection.run();
}

/**
 * The server URLs from --server (repeatable) or CAPSTAN_SERVER, each possibly
 * a comma-separated list; at least one, each http:// or https://, no repeats.
 */
export function serverUrls(values: readonly string[]): string[] {
  const urls = [...new Set(values.flatMap((v) => v.split(",")).map((u) => u.trim()).filter(Boolean))];
  if (urls.length === 0) throw new Error("--server: an http:// or https:// URL is required");
  for (const u of urls) if (!/^https?:\/\/[^\s/]+/.test(u)) throw new Error(`--server: "${u}" is not an http:// or https:// URL`);
  return urls;
}

/** The agent's client certificate for mutual TLS: both files or neither. */
function clientCertificate(cert: string | undefined, key: string | undefined): { cert: Buffer; key: Buffer } | undefined {
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new Error(`${cert ? "--key" : "--cert"}: --cert and --key go together`);
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: "${text}" is not a positive number of milliseconds`);
  return n;
}
