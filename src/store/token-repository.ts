import type { ApiToken as Row } from "../../gen/prisma/sqlite/client.js";
import type { Scope } from "../model/principal.js";
import type { ApiToken, TokenStore } from "../model/token-store.js";
import type { WriteScope } from "./change-log.js";

/** A stored row as an ApiToken. */
export function tokenFromRow(r: Row): ApiToken {
  return {
    id: r.id,
    name: r.name,
    scope: r.scopes as Scope,
    hash: r.hash,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt ?? undefined,
    revokedAt: r.revokedAt ?? undefined,
  };
}

/** TokenStore on Prisma. */
export class PrismaTokenStore implements TokenStore {
  constructor(private readonly scope: WriteScope) {}

  private get db() {
    return this.scope.db;
  }

  async listAll(): Promise<ApiToken[]> {
    return (await this.db.apiToken.findMany({ orderBy: { id: "asc" } })).map(tokenFromRow);
  }

  async insert(t: ApiToken): Promise<void> {
    await this.scope.write(async (db, note) => {
      note("token", t.id, "put");
      await db.apiToken.create({
        data: {
          id: t.id,
          name: t.name,
          scopes: t.scope,
          hash: t.hash,
          createdBy: t.createdBy,
          createdAt: t.createdAt,
          expiresAt: t.expiresAt ?? null,
          revokedAt: t.revokedAt ?? null,
        },
      });
    });
  }

  async revoke(id: string, at: Date): Promise<void> {
    await this.scope.write(async (db, note) => {
      await db.apiToken.update({ where: { id }, data: { revokedAt: at } });
      note("token", id, "put");
    });
  }
}
