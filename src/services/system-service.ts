import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { STORE_RETRY_AFTER_SECONDS, UnavailableError } from "../model/errors.js";
import type { SystemService } from "../../gen/proto/capstan/v1/system_service_pb.js";
import type { StoreCondition } from "../state/store-health.js";

/** What the SystemService handlers need. */
export interface SystemServiceDeps {
  version: string;
  startedAt: number;
  databaseProvider: string;
  /** Resolves true when the database answers. */
  pingDatabase: () => Promise<boolean>;
  /** Whether the store takes writes, from real write outcomes. */
  store: () => StoreCondition;
  /** Whether shutdown has begun. */
  shuttingDown: () => boolean;
  connectedAgents: () => number;
}

/** Health and info for people and probes. */
export function createSystemService(deps: SystemServiceDeps): ServiceImpl<typeof SystemService> {
  return {
    async getHealth() {
      // Liveness, not readiness: 200 whatever the database does. Reads are answered from
      // memory through an outage, and seed 004's nodes drop to gossip-only on any other
      // status, as a load balancer would drop this replica. GetReadiness says whether writes work.
      const answers = await deps.pingDatabase().catch(() => false);
      const store = deps.store();
      const database = !answers ? "unavailable" : store.ok ? "ok" : "failing";
      return {
        status: database === "ok" ? "healthy" : "degraded",
        version: deps.version,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 100) / 10,
        database,
        databaseProvider: deps.databaseProvider,
        connectedAgents: deps.connectedAgents(),
        databaseError: store.ok ? (answers ? "" : "the database does not answer") : store.reason,
        databaseFailingSince: store.since && timestampFromDate(store.since),
      };
    },
    getReadiness() {
      if (deps.shuttingDown()) throw new UnavailableError("not ready: the server is shutting down");
      const store = deps.store();
      if (!store.ok) throw new UnavailableError(`not ready: the database refuses writes (${store.reason})`, STORE_RETRY_AFTER_SECONDS);
      return { status: "ready" };
    },
    getInfo() {
      return {
        service: "capstan",
        version: deps.version,
        status: "running",
        links: { health: "/health", docs: "/docs", openapi: "/openapi.json" },
      };
    },
  };
}
