import { hash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Creates a random bearer token: 32 random bytes, base64url, behind a prefix
 * that says what kind of token it is (so a leaked one is recognisable).
 */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/**
 * SHA-256 hex of a token: what the store keeps instead of the token. Every
 * authenticated call hashes its bearer token, so this is the one-shot
 * `crypto.hash` (a quarter of createHash's cost: no Hash object per call).
 */
export function hashToken(token: string): string {
  return hash("sha256", token, "hex");
}

/** Compares a presented token with a stored hash in constant time. */
export function tokenMatches(token: string, storedHash: string): boolean {
  return hashMatches(hashToken(token), storedHash);
}

/** Compares a presented token's hash (hashToken) with a stored hash in constant time. */
export function hashMatches(presentedHash: string, storedHash: string): boolean {
  if (storedHash.length !== 64) return false;
  const presented = Buffer.from(presentedHash, "hex");
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
