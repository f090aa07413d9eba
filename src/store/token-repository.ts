import type { ApiToken as Row } from "../../gen/prisma/sqlite/client.js";
import type { Scope } from "../model/principal.js";
import type { ApiToken, TokenStore } from "../model/token-store.js";
import type { DbClient } from "./db.js";

function fromRow(r: Row): ApiToken {
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
  constructor(private readonly db: DbClient) {}

  async listAll(): Promise<ApiToken[]> {
    return (await this.db.apiToken.findMany({ orderBy: { id: "asc" } })).map(fromRow);
  }

  async insert(t: ApiToken): Promise<void> {
    await this.db.apiToken.create({
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
  }

  async revoke(id: string, at: Date): Promise<void> {
    await this.db.apiToken.update({ where: { id }, data: { revokedAt: at } });
  }
}
