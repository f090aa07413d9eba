import type { ServiceImpl } from "@connectrpc/connect";
import { UnavailableError } from "../model/errors.js";
import type { SystemService } from "../../gen/proto/capstan/v1/system_service_pb.js";

/** What the SystemService handlers need. */
export interface SystemServiceDeps {
  version: string;
  startedAt: number;
  databaseProvider: string;
  /** Resolves true when the database answers. */
  pingDatabase: () => Promise<boolean>;
  connectedAgents: () => number;
}

/** Health and info for people and probes. */
export function createSystemService(deps: SystemServiceDeps): ServiceImpl<typeof SystemService> {
  return {
    async getHealth() {
      const dbOk = await deps.pingDatabase().catch(() => false);
      // Probes (Docker's HEALTHCHECK, seed 004's nodes) read the HTTP status,
      // so an unusable database must fail the call, not just say so.
      if (!dbOk) throw new UnavailableError("unhealthy: the database does not answer");
      return {
        status: "healthy",
        version: deps.version,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 100) / 10,
        database: "ok",
        databaseProvider: deps.databaseProvider,
        connectedAgents: deps.connectedAgents(),
      };
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
