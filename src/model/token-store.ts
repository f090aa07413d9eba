import type { Scope } from "./principal.js";

/** An operator API token as stored: the secret's hash, never the secret. */
export interface ApiToken {
  id: string;
  name: string;
  scope: Scope;
  /** SHA-256 hex of the secret. */
  hash: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | undefined;
  revokedAt: Date | undefined;
}

/** Durable storage of operator tokens; `src/store/` implements it with Prisma. */
export interface TokenStore {
  listAll(): Promise<ApiToken[]>;
  insert(token: ApiToken): Promise<void>;
  /** Records a revocation. */
  revoke(id: string, at: Date): Promise<void>;
}
