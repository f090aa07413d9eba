import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { UsageError } from "./errors.js";

/** Where and who: the server, the credential and how to reach it. */
export interface Target {
  server: string;
  token: string;
  protocol: "grpc" | "connect";
  ca?: string;
  cert?: string;
  key?: string;
}

/** A saved context: a Target with a name. */
export interface SavedContext extends Partial<Target> {
  name: string;
}

/** The saved contexts file (config.yaml under the config directory). */
export interface ContextFile {
  current?: string;
  contexts: SavedContext[];
}

/** The global options every command accepts (commander's optsWithGlobals()). */
export interface GlobalOptions {
  server?: string;
  token?: string;
  context?: string;
  protocol?: string;
  ca?: string;
  cert?: string;
  key?: string;
  output?: string;
}

/** $XDG_CONFIG_HOME/capstan/config.yaml, or ~/.config/capstan/config.yaml. */
export function contextFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "capstan", "config.yaml");
}

/** Reads the contexts file; an absent file is an empty one. */
export async function readContexts(path = contextFilePath()): Promise<ContextFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { contexts: [] };
    throw err;
  }
  const doc = (parse(text) ?? {}) as Partial<ContextFile>;
  if (!Array.isArray(doc.contexts)) throw new UsageError(`${path}: contexts: must be a list`);
  return { current: doc.current, contexts: doc.contexts };
}

/**
 * Saves a context (replacing one of the same name) and makes it current. The
 * file holds tokens, so it is written 0600 in a 0700 directory, through a
 * temporary file renamed over the old one (a crash never leaves half a file).
 */
export async function saveContext(context: SavedContext, path = contextFilePath()): Promise<void> {
  const file = await readContexts(path);
  const contexts = [...file.contexts.filter((c) => c.name !== context.name), context];
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, stringify({ current: context.name, contexts }), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/**
 * Resolves where and who for a call: flags first, then CAPSTAN_SERVER /
 * CAPSTAN_TOKEN, then the saved context (--context or the current one).
 */
export async function resolveTarget(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const file = await readContexts(contextFilePath(env));
  const name = opts.context ?? file.current;
  const saved = name ? file.contexts.find((c) => c.name === name) : undefined;
  if (opts.context && !saved) throw new UsageError(`--context: no saved context "${opts.context}" (capstan login saves one)`);
  const server = opts.server ?? env.CAPSTAN_SERVER ?? saved?.server;
  if (!server) throw new UsageError("--server: required (or CAPSTAN_SERVER, or a context saved by capstan login)");
  if (!/^https?:\/\/[^/]/.test(server)) throw new UsageError(`--server: "${server}" is not an http:// or https:// URL`);
  const protocol = opts.protocol ?? saved?.protocol ?? "grpc";
  if (protocol !== "grpc" && protocol !== "connect") throw new UsageError(`--protocol: "${protocol}" is not grpc or connect`);
  return {
    server: server.replace(/\/+$/, ""),
    token: opts.token ?? env.CAPSTAN_TOKEN ?? saved?.token ?? "",
    protocol,
    ca: opts.ca ?? saved?.ca,
    cert: opts.cert ?? saved?.cert,
    key: opts.key ?? saved?.key,
  };
}
