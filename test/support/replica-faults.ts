import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import type { AgentProcess } from "./agent-process.js";
import { httpRequest } from "./http.js";
import type { ReplicaSet } from "./replicas.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

/** A gRPC (h2c) client of one URL (a replica, or HAProxy) as the given bearer token. */
export function clientAt<S extends DescService>(service: S, url: string, token: string): Client<S> {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(service, createGrpcTransport({ baseUrl: url, interceptors: [auth] }));
}

/** The leader's id as `url` (a replica, or HAProxy) lists it, or undefined while nobody leads. */
export async function leaderSeenAt(url: string, token: string): Promise<string | undefined> {
  const answer = await httpRequest(`${url}/api/v1/replicas`, { headers: { authorization: `Bearer ${token}` } });
  if (answer.status !== 200) throw new Error(`ListReplicas: HTTP ${answer.status} ${answer.text}`);
  return (answer.json.replicas as Array<{ id: string; leader?: boolean }>).find((r) => r.leader)?.id;
}

/** Each replica's agent count as `url` lists them (id → agents held). */
export async function agentsHeld(url: string, token: string): Promise<Map<string, number>> {
  const answer = await httpRequest(`${url}/api/v1/replicas`, { headers: { authorization: `Bearer ${token}` } });
  return new Map((answer.json.replicas as Array<{ id: string; agents?: number }>).map((r) => [r.id, r.agents ?? 0]));
}

/** The JSON log entries of a server process with the given message. */
export function logged(server: ServerProcess, msg: string): Array<Record<string, unknown>> {
  return server.logs.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Starts replica `i` of the set again (REPLICA_ID r<i>) on the port it had, so
 * agents' URL lists and HAProxy's backends still name it, and puts it in the
 * set (whose stop() ends it). `env` is what the set was started with.
 */
export async function restartReplica(set: ReplicaSet, i: number, env: Record<string, string>): Promise<ServerProcess> {
  const port = set.replicas[i].port;
  const env2 = { DATABASE_URL: set.db.url, CAPSTAN_ADMIN_TOKEN: set.adminToken, REPLICA_ID: `r${i}`, ...env, PORT: String(port) };
  // The port was just released by the old process; a moment may pass before it can be bound again.
  for (let attempt = 0; ; attempt++) {
    try {
      const next = await startServerProcess({ startTimeoutMs: 90_000, env: env2 });
      set.replicas[i] = next;
      return next;
    } catch (err) {
      if (attempt >= 5 || !/EADDRINUSE/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** The lines a file holds now (none when it does not exist yet). */
export function linesOf(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  } catch {
    return [];
  }
}

/** The entries seen more than once. */
export function repeated(lines: string[]): string[] {
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([l]) => l);
}

/** The servers an agent logged connecting to, in order. */
export function connectedTo(agent: AgentProcess): string[] {
  return agent
    .output()
    .split("\n")
    .flatMap((line) => {
      try {
        const e = JSON.parse(line) as { msg?: string; server?: string };
        return e.msg === "connected to control plane" && e.server ? [e.server] : [];
      } catch {
        return [];
      }
    });
}
