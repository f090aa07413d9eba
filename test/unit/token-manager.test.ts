import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../../src/model/errors.js";
import { TokenManager } from "../../src/managers/token-manager.js";
import { hashToken } from "../../src/model/tokens.js";
import { ManualClock } from "../fakes/clock.js";
import { MemoryTokenStore } from "../fakes/memory-token-store.js";

const logger = pino({ level: "silent" });

describe("TokenManager", () => {
  let store: MemoryTokenStore;
  let clock: ManualClock;
  let tokens: TokenManager;
  beforeEach(async () => {
    store = new MemoryTokenStore();
    clock = new ManualClock();
    tokens = new TokenManager(store, logger, clock.date);
    await tokens.load();
  });

  it("creates a bootstrap admin token once, when the store has none", async () => {
    const secret = await tokens.bootstrap(undefined);
    expect(secret).toMatch(/^cap_/);
    expect(tokens.authenticate(secret!)).toMatchObject({ kind: "operator", name: "bootstrap", scope: "admin" });
    expect(await tokens.bootstrap(undefined)).toBeUndefined();
    const again = new TokenManager(store, logger);
    await again.load();
    expect(await again.bootstrap(undefined)).toBeUndefined();
  });

  it("makes CAPSTAN_ADMIN_TOKEN an admin token and prints nothing", async () => {
    const secret = "from-the-environment-0123456789";
    expect(await tokens.bootstrap(secret)).toBeUndefined();
    expect(tokens.authenticate(secret)?.scope).toBe("admin");
    await tokens.bootstrap(secret);
    expect(store.rows.size).toBe(1);
  });

  it("stores only the hash of a secret, never the secret", async () => {
    const { token, secret } = await tokens.create({ name: "ci", scope: "write", ttlMs: 0 }, "operator:root");
    const row = store.rows.get(token.id)!;
    expect(row.hash).toBe(hashToken(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it("authenticates active tokens only: revoked and expired ones are refused", async () => {
    const a = await tokens.create({ name: "a", scope: "read", ttlMs: 0 }, "x");
    const b = await tokens.create({ name: "b", scope: "read", ttlMs: 60_000 }, "x");
    expect(tokens.authenticate(a.secret)?.tokenId).toBe(a.token.id);
    await tokens.revoke(a.token.id);
    expect(tokens.authenticate(a.secret)).toBeUndefined();
    expect(tokens.authenticate(b.secret)).toBeDefined();
    clock.advance(60_001);
    expect(tokens.authenticate(b.secret)).toBeUndefined();
    expect(tokens.authenticate("cap_not-a-token")).toBeUndefined();
  });

  it("lists without inactive tokens unless asked", async () => {
    const a = await tokens.create({ name: "a", scope: "read", ttlMs: 0 }, "x");
    await tokens.create({ name: "b", scope: "admin", ttlMs: 0 }, "x");
    await tokens.revoke(a.token.id);
    expect(tokens.list(false).map((t) => t.name)).toEqual(["b"]);
    expect(tokens.list(true).map((t) => t.name)).toEqual(["a", "b"]);
  });

  it("tells revocation listeners once, and revoking twice is harmless", async () => {
    const { token } = await tokens.create({ name: "watcher", scope: "read", ttlMs: 0 }, "x");
    let told = 0;
    tokens.onRevoke(token.id, () => told++);
    const off = tokens.onRevoke(token.id, () => told++);
    off();
    await tokens.revoke(token.id);
    await tokens.revoke(token.id);
    expect(told).toBe(1);
    expect(store.rows.get(token.id)?.revokedAt).toEqual(clock.date());
  });

  const bad: Array<[string, Parameters<TokenManager["create"]>[0], new (...a: never[]) => Error, string]> = [
    ["an empty name", { name: "", scope: "read", ttlMs: 0 }, InvalidArgumentError, "name"],
    ["a name with spaces", { name: "my token", scope: "read", ttlMs: 0 }, InvalidArgumentError, "name"],
    ["no scope", { name: "x", scope: undefined, ttlMs: 0 }, InvalidArgumentError, "scope"],
    ["a negative ttl", { name: "x", scope: "read", ttlMs: -1 }, InvalidArgumentError, "ttl"],
  ];
  it.each(bad)("refuses %s, naming the field", async (_name, input, type, field) => {
    await expect(tokens.create(input, "x")).rejects.toBeInstanceOf(type);
    await expect(tokens.create(input, "x")).rejects.toMatchObject({ field });
    expect(store.rows.size).toBe(0);
  });

  it("refuses a second active token with the same name, and unknown ids on revoke", async () => {
    await tokens.create({ name: "ci", scope: "read", ttlMs: 0 }, "x");
    await expect(tokens.create({ name: "ci", scope: "write", ttlMs: 0 }, "x")).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(tokens.revoke("nope")).rejects.toBeInstanceOf(NotFoundError);
  });
});
