import type { ApiToken, TokenStore } from "../../src/model/token-store.js";

/** An in-memory TokenStore for unit tests: rows are copies, so tests see only what was stored. */
export class MemoryTokenStore implements TokenStore {
  readonly rows = new Map<string, ApiToken>();

  async listAll(): Promise<ApiToken[]> {
    return [...this.rows.values()].map((t) => structuredClone(t));
  }

  async insert(token: ApiToken): Promise<void> {
    if ([...this.rows.values()].some((t) => t.hash === token.hash)) throw new Error("unique constraint: token_hash");
    this.rows.set(token.id, structuredClone(token));
  }

  async revoke(id: string, at: Date): Promise<void> {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no token ${id}`);
    row.revokedAt = at;
  }
}
