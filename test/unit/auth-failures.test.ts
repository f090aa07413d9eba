import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AuditLog } from "../../src/managers/audit-log.js";
import { AuthFailures } from "../../src/rpc/auth-failures.js";
import { MemoryAuditStore } from "../fakes/memory-audit-store.js";

const logger = pino({ level: "silent" });
const fail = (address: string) => ({ address, rpc: "capstan.v1.TokenService/CreateToken", message: "the bearer token is not valid" });

describe("AuthFailures", () => {
  it("records the first failure per address in full and sums the rest per window, with one event for addresses beyond the bound", async () => {
    const store = new MemoryAuditStore();
    const audit = new AuditLog(store, logger);
    const failures = new AuthFailures({ perWindow: 0, windowMs: 60_000, maxAddresses: 2 }, audit, logger);
    for (let i = 0; i < 1000; i++) failures.record(fail(`10.0.0.${i % 5}`));
    await audit.flush();
    expect(store.rows.map((e) => e.peer)).toEqual(["10.0.0.0", "10.0.0.1"]);
    failures.flush();
    await audit.flush();
    const sums = store.rows.slice(2).map((e) => [e.peer, e.message]);
    expect(sums).toEqual([
      ["10.0.0.0", "199 more failed authentications in 60 s"],
      ["10.0.0.1", "199 more failed authentications in 60 s"],
      ["", "600 failed authentications in 60 s from addresses beyond the first 2"],
    ]);
    // A new window starts afresh.
    failures.record(fail("10.0.0.0"));
    await audit.flush();
    expect(store.rows).toHaveLength(6);
  });

  it.each([
    ["under the limit", 3, undefined],
    ["over the limit", 6, "ResourceExhausted"],
  ])("limits an address %s per window", async (_what, count, expected) => {
    const failures = new AuthFailures({ perWindow: 5, windowMs: 60_000 }, new AuditLog(new MemoryAuditStore(), logger), logger);
    for (let i = 0; i < count; i++) failures.record(fail("10.0.0.9"));
    await new Promise((r) => setImmediate(r));
    let outcome: string | undefined;
    try {
      failures.check("10.0.0.9");
    } catch (err) {
      outcome = (err as Error).name === "ConnectError" ? "ResourceExhausted" : String(err);
    }
    expect(outcome).toBe(expected);
    expect(() => failures.check("10.0.0.10")).not.toThrow();
    failures.flush();
  });
});
