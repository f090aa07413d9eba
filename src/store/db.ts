import type { Prisma, PrismaClient as SqliteClient } from "../../gen/prisma/sqlite/client.js";

/**
 * The Prisma client type repositories are written against. The PostgreSQL
 * client is generated from the same models (CI checks they are in sync), so
 * its model API is the same; only the SQL underneath differs.
 */
export type Db = SqliteClient;

/**
 * What a repository runs its queries on: the client itself, or the client
 * bound to an open interactive transaction (Database.transaction).
 */
export type DbClient = Db | Prisma.TransactionClient;

/**
 * Runs writes all or nothing: as one batch transaction on the client, or in
 * order inside the transaction the client is already bound to.
 */
export async function allOrNothing(db: DbClient, writes: Array<Prisma.PrismaPromise<unknown>>): Promise<void> {
  if ("$transaction" in db) {
    await db.$transaction(writes);
    return;
  }
  for (const write of writes) await write;
}
