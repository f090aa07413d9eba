import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { stringify } from "yaml";
import { UsageError } from "./errors.js";

/** How a command prints what it got: a human table, or the API's JSON as JSON or YAML. */
export type OutputFormat = "table" | "json" | "yaml";

/** Parses -o/--output. */
export function outputFormat(value: string | undefined): OutputFormat {
  const v = value ?? "table";
  if (v === "table" || v === "json" || v === "yaml") return v;
  throw new UsageError(`--output: "${v}" is not table, json or yaml`);
}

/** A column of a table: its heading and how to show a row's cell. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/**
 * Lays rows out as an aligned table: one heading line, every column as wide
 * as its widest cell, two spaces between columns, no trailing spaces.
 */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => oneLine(c.value(r))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => width(line[i]))));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell + " ".repeat(widths[i] - width(cell)))).join("  ").trimEnd()).join("\n") + "\n";
}

/** Key: value lines for one object, keys aligned. */
export function details(pairs: ReadonlyArray<readonly [string, string]>): string {
  const w = Math.max(...pairs.map(([k]) => width(k) + 1));
  return pairs.map(([k, v]) => `${(k + ":").padEnd(w)}  ${v}`.trimEnd()).join("\n") + "\n";
}

/** A message as the API's JSON (proto3 JSON names, as Connect and the REST gateway answer). */
export function messageJson<D extends DescMessage>(schema: D, message: MessageShape<D>): unknown {
  return toJson(schema, message, { alwaysEmitImplicit: true });
}

/** JSON or YAML of a plain value, ending with a newline. */
export function serialize(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? JSON.stringify(value, null, 2) + "\n" : stringify(value);
}

/** How long ago a time was, as kubectl shows it: 45s, 12m, 3h, 5d. */
export function age(t: Timestamp | undefined, now = Date.now()): string {
  if (!t) return "-";
  const s = Math.max(0, Math.floor((now - (Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6))) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An RFC 3339 time, or "-". */
export function time(t: Timestamp | undefined): string {
  if (!t) return "-";
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString();
}

/** k=v pairs, sorted by key, comma-separated; "-" when empty. */
export function labels(map: Record<string, string | number>): string {
  const keys = Object.keys(map).sort();
  return keys.length === 0 ? "-" : keys.map((k) => `${k}=${map[k]}`).join(",");
}

/** A list, comma-separated; "-" when empty. */
export function list(items: readonly string[]): string {
  return items.length === 0 ? "-" : items.join(",");
}

/**
 * An enum value's name in lower case without its prefix: JOB_STATUS_IN_PROGRESS
 * (or IN_PROGRESS, as protobuf-es names the members) → in_progress.
 */
export function enumName(names: Record<number, string>, value: number, prefix: string): string {
  const name = names[value];
  if (name === undefined) return String(value);
  const short = name.startsWith(prefix) ? name.slice(prefix.length) : name;
  return short === "UNSPECIFIED" ? "-" : short.toLowerCase();
}

/** Parses an enum's short name (in_progress, IN_PROGRESS or JOB_STATUS_IN_PROGRESS) for a flag. */
export function parseEnum(flag: string, names: Record<string, string | number>, prefix: string, text: string): number {
  const upper = text.toUpperCase().replace(/-/g, "_");
  const short = upper.startsWith(prefix) ? upper.slice(prefix.length) : upper;
  const value = names[short] ?? names[prefix + short];
  if (typeof value !== "number" || value === 0) {
    const allowed = Object.keys(names)
      .filter((k) => Number.isNaN(Number(k)) && !k.endsWith("UNSPECIFIED"))
      .map((k) => (k.startsWith(prefix) ? k.slice(prefix.length) : k).toLowerCase());
    throw new UsageError(`${flag}: "${text}" is not one of ${allowed.join(", ")}`);
  }
  return value;
}

// A cell is one line: a newline would break the alignment of every row below.
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

function width(s: string): number {
  return [...s].length;
}
