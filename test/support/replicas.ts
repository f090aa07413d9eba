import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { createTestDatabase, type TestDatabase } from "./providers.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

/**
 * PostgreSQL for the multi-replica tests: TEST_DATABASE_URL, or (CI, where
 * CAPSTAN_REQUIRE_POSTGRES=1) an error when it is missing; undefined lets a
 * developer without PostgreSQL skip them.
 */
export function postgresForReplicas(): boolean {
  if (process.env.TEST_DATABASE_URL) return true;
  if (process.env.CAPSTAN_REQUIRE_POSTGRES === "1") throw new Error("CAPSTAN_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: run scripts/ci/postgres.sh");
  return false;
}

/** Several real server processes on one fresh PostgreSQL schema. */
export interface ReplicaSet {
  readonly db: TestDatabase;
  readonly replicas: ServerProcess[];
  readonly adminToken: string;
  /** A client of one replica over gRPC (h2c), as the admin. */
  client<S extends DescService>(service: S, replica: number): Client<S>;
  stop(): Promise<void>;
}

/** A port free now on 127.0.0.1 (for a replica that must know its ADVERTISE_URL before it listens). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `count` replicas (REPLICA_ID r0, r1, ...) on one new schema with one
 * admin token; the first starts alone, so it applies the migrations. With
 * `advertise`, each listens on a port chosen here and advertises it
 * (ADVERTISE_URL), so replicas can call each other (the chunk owner).
 */
export async function startReplicas(count: number, env: Record<string, string> = {}, options: { advertise?: boolean } = {}): Promise<ReplicaSet> {
  const db = await createTestDatabase("postgresql");
  const adminToken = `replica-admin-${randomBytes(16).toString("hex")}`;
  const ports = options.advertise ? await Promise.all(Array.from({ length: count }, () => freePort())) : [];
  const own = (i: number): Record<string, string> => (options.advertise ? { PORT: String(ports[i]), ADVERTISE_URL: `http://127.0.0.1:${ports[i]}` } : {});
  const start = (i: number) => startServerProcess({ startTimeoutMs: 90_000, env: { DATABASE_URL: db.url, CAPSTAN_ADMIN_TOKEN: adminToken, REPLICA_ID: `r${i}`, ...own(i), ...env } });
  const replicas = [await start(0)];
  replicas.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => start(i + 1)))));
  const transports = replicas.map((r) => createGrpcTransport({ baseUrl: r.url }));
  return {
    db,
    replicas,
    adminToken,
    client: (service, i) => createClient(service, transports[i]),
    async stop() {
      // A replica that died during the tests: its last words explain the failures.
      for (const [i, r] of replicas.entries()) if (!r.alive()) console.error(`replica r${i} exited (${String(r.exitCode)}):\n${r.logs.slice(-20).join("\n")}`);
      await Promise.all(replicas.map((r) => r.stop()));
      await db.drop();
    },
  };
}

/** The admin's authorization header, with more headers. */
export function asAdmin(set: ReplicaSet, more: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${set.adminToken}`, ...more };
}

/** Runs a unary call and returns its answer with the Capstan-Index header it carried. */
export async function withIndex<T>(call: (onHeader: (h: Headers) => void) => Promise<T>): Promise<{ out: T; index: number }> {
  let index = Number.NaN;
  const out = await call((h) => (index = Number(h.get("capstan-index"))));
  return { out, index };
}
