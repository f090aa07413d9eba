import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** A database for one test file: a fresh SQLite file, or a fresh PostgreSQL schema. */
export interface TestDatabase {
  provider: "sqlite" | "postgresql";
  url: string;
  /** Drops what the test created. */
  drop(): Promise<void>;
}

/**
 * The providers to run a suite against: SQLite always; PostgreSQL when
 * TEST_DATABASE_URL is set. With CAPSTAN_REQUIRE_POSTGRES=1 (CI) a missing
 * PostgreSQL is an error, so the PostgreSQL half can never silently vanish.
 */
export function providers(): Array<"sqlite" | "postgresql"> {
  if (process.env.TEST_DATABASE_URL) return ["sqlite", "postgresql"];
  if (process.env.CAPSTAN_REQUIRE_POSTGRES === "1") {
    throw new Error("CAPSTAN_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: run scripts/ci/postgres.sh");
  }
  return ["sqlite"];
}

/** Creates an empty database of the given provider. */
export async function createTestDatabase(provider: "sqlite" | "postgresql"): Promise<TestDatabase> {
  if (provider === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "capstan-test-"));
    return { provider, url: `file:${join(dir, "capstan.db")}`, drop: async () => undefined };
  }
  const base = process.env.TEST_DATABASE_URL as string;
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const url = new URL(base);
  url.searchParams.set("schema", schema);
  return {
    provider,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}
