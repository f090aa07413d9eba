import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Creates a random bearer token: 32 random bytes, base64url, behind a prefix
 * that says what kind of token it is (so a leaked one is recognisable).
 */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** SHA-256 hex of a token: what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Compares a presented token with a stored hash in constant time. */
export function tokenMatches(token: string, storedHash: string): boolean {
  if (storedHash.length !== 64) return false;
  const presented = Buffer.from(hashToken(token), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
