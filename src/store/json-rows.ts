import { Prisma } from "../../gen/prisma/sqlite/client.js";
import type { Provider } from "./providers.js";

/** A column of rows passed as JSON, with the SQL type it is read as. */
export type JsonColumn = readonly [name: string, type: "text" | "bigint" | "integer" | "timestamp"];

const PG_TYPES = { text: "text", bigint: "bigint", integer: "integer", timestamp: "timestamp(3)" } as const;

/**
 * How a Date is stored: the text the SQLite driver adapter writes for a
 * DateTime (an ISO instant with "+00:00"); an ISO instant PostgreSQL reads
 * into timestamp(3), which holds UTC.
 */
function encode(provider: Provider, value: unknown): unknown {
  if (value instanceof Date) return provider === "postgresql" ? value.toISOString() : value.toISOString().replace(/Z$/, "+00:00");
  if (typeof value === "bigint") return Number(value);
  return value ?? null;
}

/**
 * Many rows as a derived table (for FROM), bound as ONE parameter: a JSON
 * array of rows that the database unpacks (SQLite json_each, PostgreSQL
 * json_array_elements). Why not VALUES with a parameter per field: Prisma's
 * query compiler, in Wasm on the event loop, serialises, plans and interprets
 * every bound value, about 150 µs each; a batch of 1,000 change rows (7,000
 * values) held the loop for 150–440 ms, the heartbeat latency tail of
 * bench:agents while 10,000 agents connected. As one JSON text: about 5 ms.
 * Column names are the caller's constants, never input.
 * @param columns each row's fields in order, named and typed
 * @param rows one array of values per row (Dates, bigints, strings, numbers, null)
 */
export function jsonRows(provider: Provider, columns: readonly JsonColumn[], rows: ReadonlyArray<readonly unknown[]>): Prisma.Sql {
  const json = JSON.stringify(rows.map((row) => row.map((v) => encode(provider, v))));
  if (provider === "postgresql") {
    const fields = columns.map(([name, type], i) => `(j.v->>${i})::${PG_TYPES[type]} AS ${name}`).join(", ");
    return Prisma.sql`(SELECT ${Prisma.raw(fields)} FROM json_array_elements(${json}::json) AS j(v))`;
  }
  const fields = columns.map(([name], i) => `json_extract(j.value, '$[${i}]') AS ${name}`).join(", ");
  return Prisma.sql`(SELECT ${Prisma.raw(fields)} FROM json_each(${json}) AS j)`;
}
