import type { Logger } from "pino";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../model/errors.js";
import { newTimeOrderedId } from "../model/ids.js";
import type { Principal, Scope } from "../model/principal.js";
import type { ApiToken, TokenStore } from "../model/token-store.js";
import { hashToken, newToken } from "../model/tokens.js";

/** What CreateToken takes. */
export interface CreateTokenInput {
  name: string;
  scope: Scope | undefined;
  /** 0: never expires. */
  ttlMs: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A token is usable while neither revoked nor expired. */
export function isActive(t: ApiToken, now: Date): boolean {
  return t.revokedAt === undefined && (t.expiresAt === undefined || t.expiresAt > now);
}

/**
 * Operator tokens: created with a scope, shown once, stored as SHA-256
 * hashes, looked up by hash on every call (a Map, no store round trip), and
 * revoked at once, including on streams already open with them (listeners).
 */
export class TokenManager {
  private readonly byHash = new Map<string, ApiToken>();
  private readonly byId = new Map<string, ApiToken>();
  private readonly revokeListeners = new Map<string, Set<() => void>>();

  constructor(
    private readonly store: TokenStore,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Loads every token from the store. */
  async load(): Promise<void> {
    for (const t of await this.store.listAll()) this.index(t);
  }

  /**
   * The first admin token. With CAPSTAN_ADMIN_TOKEN set, that secret is made an
   * admin token if the store does not know it yet; otherwise, when the store
   * has no token at all, one is generated and its secret returned, for the
   * caller to show once. Resolves undefined when nothing new must be shown.
   */
  async bootstrap(adminSecret: string | undefined): Promise<string | undefined> {
    if (adminSecret !== undefined) {
      if (!this.byHash.has(hashToken(adminSecret))) {
        await this.insert("bootstrap", "admin", hashToken(adminSecret), "CAPSTAN_ADMIN_TOKEN", 0);
        this.logger.info("admin token from CAPSTAN_ADMIN_TOKEN added");
      }
      return undefined;
    }
    if (this.byId.size > 0) return undefined;
    const secret = newToken("cap");
    await this.insert("bootstrap", "admin", hashToken(secret), "bootstrap", 0);
    this.logger.warn("no API token existed: a bootstrap admin token was created and printed once on stderr");
    return secret;
  }

  /** The operator a bearer secret belongs to, if it is an active token. */
  authenticate(secret: string): Extract<Principal, { kind: "operator" }> | undefined {
    return this.authenticateHash(hashToken(secret));
  }

  /** As authenticate, for a secret already hashed (hashToken): a call hashes its bearer token once. */
  authenticateHash(secretHash: string): Extract<Principal, { kind: "operator" }> | undefined {
    const t = this.byHash.get(secretHash);
    // The clock is read only for a token that can expire: most never do, and every call asks.
    if (!t || t.revokedAt !== undefined || (t.expiresAt !== undefined && !isActive(t, this.now()))) return undefined;
    return { kind: "operator", tokenId: t.id, name: t.name, scope: t.scope };
  }

  /** Creates a token; the secret is returned here only. */
  async create(input: CreateTokenInput, createdBy: string): Promise<{ token: ApiToken; secret: string }> {
    if (!NAME.test(input.name)) throw new InvalidArgumentError("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    if (input.scope === undefined) throw new InvalidArgumentError("scope", "is required: read, write or admin");
    if (!Number.isFinite(input.ttlMs) || input.ttlMs < 0) throw new InvalidArgumentError("ttl", "must not be negative");
    const now = this.now();
    if ([...this.byId.values()].some((t) => t.name === input.name && isActive(t, now))) throw new AlreadyExistsError("token", input.name);
    const secret = newToken("cap");
    const token = await this.insert(input.name, input.scope, hashToken(secret), createdBy, input.ttlMs);
    this.logger.info({ tokenId: token.id, name: token.name, scope: token.scope, createdBy }, "token created");
    return { token, secret };
  }

  /** Tokens, oldest first; revoked and expired ones only when asked. */
  list(includeInactive: boolean): ApiToken[] {
    const now = this.now();
    return [...this.byId.values()].filter((t) => includeInactive || isActive(t, now)).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Revokes a token; calls and streams using it fail from now on. Revoking twice is harmless. */
  async revoke(id: string): Promise<ApiToken> {
    const t = this.byId.get(id);
    if (!t) throw new NotFoundError("token", id);
    if (t.revokedAt === undefined) {
      const at = this.now();
      await this.store.revoke(id, at);
      const revoked = { ...t, revokedAt: at };
      this.index(revoked);
      this.logger.info({ tokenId: id, name: t.name }, "token revoked");
      this.endStreams(id);
    }
    return this.byId.get(id)!;
  }

  /**
   * Another replica created or revoked a token (read from the change feed):
   * it is known here from now on, and a revocation ends this replica's
   * streams that use it, as a revocation made here does.
   */
  applyRemote(token: ApiToken): void {
    const known = this.byId.get(token.id);
    if (known && known.hash !== token.hash) this.byHash.delete(known.hash);
    this.index(token);
    if (token.revokedAt !== undefined && known?.revokedAt === undefined) {
      this.logger.info({ tokenId: token.id, name: token.name }, "token revoked on another replica");
      this.endStreams(token.id);
    }
  }

  private endStreams(id: string): void {
    for (const listener of this.revokeListeners.get(id) ?? []) listener();
    this.revokeListeners.delete(id);
  }

  /** Calls `listener` once if the token is revoked; returns an unsubscribe function. */
  onRevoke(tokenId: string, listener: () => void): () => void {
    let set = this.revokeListeners.get(tokenId);
    if (!set) this.revokeListeners.set(tokenId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.revokeListeners.delete(tokenId);
    };
  }

  private async insert(name: string, scope: Scope, hash: string, createdBy: string, ttlMs: number): Promise<ApiToken> {
    const now = this.now();
    const token: ApiToken = {
      id: newTimeOrderedId(now.getTime()),
      name,
      scope,
      hash,
      createdBy,
      createdAt: now,
      expiresAt: ttlMs > 0 ? new Date(now.getTime() + ttlMs) : undefined,
      revokedAt: undefined,
    };
    await this.store.insert(token);
    this.index(token);
    return token;
  }

  private index(t: ApiToken): void {
    this.byId.set(t.id, t);
    this.byHash.set(t.hash, t);
  }
}
