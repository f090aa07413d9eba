import type { PrismaClient as SqliteClient } from "../../gen/prisma/sqlite/client.js";

/**
 * The Prisma client type repositories are written against. The PostgreSQL
 * client is generated from the same models (CI checks they are in sync), so
 * its model API is the same; only the SQL underneath differs.
 */
export type Db = SqliteClient;
