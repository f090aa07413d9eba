import { describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/model/errors.js";
import { StoreHealth } from "../../src/state/store-health.js";
import { faultAware, guardStoreCall, storeFaultReason } from "../../src/store/store-faults.js";

// The shapes Prisma 7 and its driver adapters throw, as measured against real databases
// (SQLite with max_page_count reached, PostgreSQL behind a proxy that was cut).
const adapterError = (cause: Record<string, unknown>, code = "P2010") => ({ name: "PrismaClientKnownRequestError", code, meta: { driverAdapterError: { name: "DriverAdapterError", cause } } });

describe("storeFaultReason", () => {
  it.each([
    ["SQLite full disk", adapterError({ kind: "sqlite", originalCode: "SQLITE_FULL", extendedCode: 13 }), "database or disk is full"],
    ["SQLite busy", adapterError({ kind: "sqlite", originalCode: "SQLITE_BUSY" }), "the database is locked by another writer"],
    ["SQLite I/O error", adapterError({ kind: "sqlite", originalCode: "SQLITE_IOERR_WRITE" }), "disk I/O error"],
    ["PostgreSQL refused", adapterError({ kind: "DatabaseNotReachable", host: "127.0.0.1", port: 5432 }, "P1001"), "the database server cannot be reached"],
    ["PostgreSQL reset", adapterError({ kind: "ConnectionClosed" }), "the connection to the database was closed"],
    ["PostgreSQL shutting down", adapterError({ kind: "postgres", code: "57P01", severity: "FATAL" }), "the database refused the call (SQLSTATE 57P01)"],
    ["PostgreSQL disk full", adapterError({ kind: "postgres", code: "53100", severity: "ERROR" }), "the database refused the call (SQLSTATE 53100)"],
    ["Prisma pool timeout", { code: "P2024", message: "Timed out fetching a new connection" }, "no database connection was free in time"],
    ["Prisma transaction not started in time", { code: "P2028", message: "Transaction API error: Unable to start a transaction in the given time." }, "a database transaction could not start or finish in time"],
    ["pg broken connection", new Error("Connection terminated unexpectedly"), "the connection to the database broke"],
    ["nested cause", { message: "wrapped", cause: adapterError({ kind: "sqlite", originalCode: "SQLITE_FULL" }) }, "database or disk is full"],
  ])("%s is a store fault", (_, err, reason) => {
    expect(storeFaultReason(err)).toBe(reason);
  });

  it.each([
    ["unique constraint", adapterError({ kind: "UniqueConstraintViolation", constraint: { fields: ["id"] } }, "P2002")],
    ["SQLite constraint", adapterError({ kind: "sqlite", originalCode: "SQLITE_CONSTRAINT_PRIMARYKEY" })],
    ["PostgreSQL syntax error", adapterError({ kind: "postgres", code: "42601", severity: "ERROR" })],
    ["a bug", new TypeError("cannot read properties of undefined")],
    ["not an error", "boom"],
  ])("%s is not", (_, err) => {
    expect(storeFaultReason(err)).toBeUndefined();
  });
});

class Repo {
  constructor(private readonly fail: unknown) {}
  async listThings(): Promise<string[]> {
    if (this.fail) throw this.fail;
    return ["a"];
  }
  async save(): Promise<void> {
    if (this.fail) throw this.fail;
  }
}

describe("faultAware", () => {
  it("turns a store fault into StoreUnavailableError with its cause, and marks the store failing", async () => {
    const health = new StoreHealth();
    const fault = adapterError({ kind: "sqlite", originalCode: "SQLITE_FULL" });
    const err = await faultAware(new Repo(fault), health).save().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).retryAfterSeconds).toBe(5);
    expect((err as Error).cause).toBe(fault);
    expect(health.current).toMatchObject({ ok: false, reason: "database or disk is full" });
  });

  it("refuses a call when no transaction could start in time (busy), without marking the store failing", async () => {
    const health = new StoreHealth();
    const busy = { code: "P2028", message: "Transaction API error: Unable to start a transaction in the given time." };
    const err = await guardStoreCall(() => faultAware(new Repo(busy), health).save(), health, true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).reason).toBe("a database transaction could not start or finish in time");
    expect(health.ok).toBe(true);
  });

  it("does not wrap an error twice when a guarded call runs inside another", async () => {
    const health = new StoreHealth();
    const inner = faultAware(new Repo(adapterError({ kind: "ConnectionClosed" })), health);
    const err = await guardStoreCall(() => inner.save(), health, true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).cause).not.toBeInstanceOf(StoreUnavailableError);
  });

  it("passes other errors unchanged and leaves the store ok", async () => {
    const health = new StoreHealth();
    const bug = new TypeError("bug");
    await expect(faultAware(new Repo(bug), health).listThings()).rejects.toBe(bug);
    expect(health.ok).toBe(true);
  });

  it("asks for a probe when a write succeeds while failing, and not for a read", async () => {
    const health = new StoreHealth();
    let probes = 0;
    health.onProbeWanted(() => probes++);
    health.failing("disk I/O error");
    const repo = faultAware(new Repo(undefined), health);
    expect(await repo.listThings()).toEqual(["a"]);
    expect(probes).toBe(0);
    await repo.save();
    expect(probes).toBe(1);
    expect(health.ok).toBe(false);
  });
});
