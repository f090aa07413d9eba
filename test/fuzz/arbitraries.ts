import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import fc from "fast-check";
import { SERVICES } from "../../src/app/app.js";

/** A byte-level edit of a valid message; positions wrap around the message's length. */
export type ByteMutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; byte: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number }
  | { op: "truncate"; at: number }
  | { op: "duplicate"; at: number; count: number };

/** Byte mutations: bit flips, overwrites, inserts, deletes, truncation, repeats. */
export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x08) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
);

/** Applies mutations in order to a copy of `bytes`. */
export function mutateBytes(bytes: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === "insert" ? 1 : 0));
    switch (m.op) {
      case "flip":
        if (b.length) b[at] ^= 1 << m.bit;
        break;
      case "set":
        if (b.length) b[at] = m.byte;
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case "delete":
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case "truncate":
        b = b.subarray(0, at);
        break;
      case "duplicate":
        b = Buffer.concat([b.subarray(0, at + m.count), b.subarray(at)]);
        break;
    }
  }
  return b;
}

/** A request payload: random bytes, or one of the RPC's valid samples (by index) mutated. */
export type Payload = { kind: "random"; bytes: Uint8Array } | { kind: "mutated"; sample: number; mutations: ByteMutation[] };

/** Payloads: mostly mutations of valid requests, which get past the first bytes further than noise does. */
export const payload: fc.Arbitrary<Payload> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 96 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("mutated" as const), sample: fc.nat(), mutations: fc.array(byteMutation, { minLength: 1, maxLength: 4 }) }) },
);

/** How the gRPC 5-byte prefix is (mis)used. */
export type Framing =
  | { kind: "frame" }
  | { kind: "unframed" }
  | { kind: "length"; delta: number }
  | { kind: "compressed" }
  | { kind: "twice" }
  | { kind: "huge" }
  | { kind: "empty" };

/** Framings: mostly correct, so payload bugs are reached, plus every way the prefix can lie. */
export const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "frame" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "unframed" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("length" as const), delta: fc.integer({ min: -8, max: 8 }).filter((d) => d !== 0) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "compressed" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "twice" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "huge" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "empty" as const }) },
);

/** Who a call claims to be; resolved to a header with the seeded secrets at run time. */
export type Credential = "none" | "admin" | "reader" | "node" | "garbage" | "empty-bearer" | "basic" | "node-header";
/** Every kind of credential, valid and not. */
export const credential: fc.Arbitrary<Credential> = fc.constantFrom("none", "admin", "admin", "reader", "node", "garbage", "empty-bearer", "basic", "node-header");

/** The header a credential becomes. */
export function credentialHeaders(c: Credential, secrets: { admin: string; reader: string; node: string }): Record<string, string> {
  switch (c) {
    case "none":
      return {};
    case "admin":
      return { authorization: `Bearer ${secrets.admin}` };
    case "reader":
      return { authorization: `Bearer ${secrets.reader}` };
    case "node":
      return { authorization: `Bearer ${secrets.node}` };
    case "garbage":
      return { authorization: "Bearer cpn_not-a-real-token-0123456789" };
    case "empty-bearer":
      return { authorization: "Bearer " };
    case "basic":
      return { authorization: "Basic YWRtaW46YWRtaW4=" };
    case "node-header":
      return { "x-capstan-node-token": secrets.node };
  }
}

// Every request field name (proto and JSON spelling) plus the seeds' aliases: random
// bodies that use real names get past "unknown field" and into the handlers.
function fieldNames(): string[] {
  const names = new Set(["id", "hostname", "ip", "p2p_port", "http_port", "memory_capacity_mb", "disk_capacity_mb", "status", "__proto__", "constructor"]);
  const seen = new Set<string>();
  const walk = (m: DescMessage) => {
    if (seen.has(m.typeName) || m.typeName.startsWith("google.")) return;
    seen.add(m.typeName);
    for (const f of m.fields) {
      names.add(f.name);
      names.add(f.jsonName);
      if (f.message) walk(f.message);
    }
  };
  for (const s of SERVICES) for (const m of s.methods) walk(m.input);
  return [...names].sort();
}

/** Field names from the request messages, or anything else. */
export const fieldName: fc.Arbitrary<string> = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...fieldNames()) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });

/** fast-check's JSON values, typed as protobuf-es's (the same shapes). */
export function anyJson(maxDepth: number): fc.Arbitrary<JsonValue> {
  return fc.jsonValue({ maxDepth }) as fc.Arbitrary<JsonValue>;
}

/** JSON values, with the numbers and strings validators trip on. */
export const jsonLeaf: fc.Arbitrary<JsonValue> = fc.oneof(
  anyJson(2),
  fc.constantFrom<JsonValue>(-1, 0, 1e308, -1e308, 2 ** 53 + 1, 4294967296, -2147483649, 0.5, "", "NaN", "Infinity", "-1", "1e999", "online", "NODE_STATUS_ONLINE", "999999999999999999999", null, [], {}),
);

/** An edit of a JSON body. */
export type JsonMutation =
  | { op: "drop"; at: number }
  | { op: "set"; key: string; value: JsonValue }
  | { op: "retype"; at: number; value: JsonValue }
  | { op: "nest"; at: number; depth: number }
  | { op: "wrap"; as: "array" | "string" | "null" };

/** JSON mutations: drop, add or retype a field, nest a value very deep, or replace the whole body. */
export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant("drop" as const), at: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("set" as const), key: fieldName, value: jsonLeaf }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("retype" as const), at: fc.nat(), value: jsonLeaf }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("nest" as const), at: fc.nat(), depth: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1000, max: 20_000 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("wrap" as const), as: fc.constantFrom("array" as const, "string" as const, "null" as const) }) },
);

/**
 * Applies JSON mutations to a copy of an object body and returns its text.
 * Deep nesting is spliced into the text, as a client would send it: building
 * it as a value would overflow JSON.stringify's stack here, not the server's.
 */
export function mutateJson(body: Record<string, JsonValue>, mutations: readonly JsonMutation[]): string {
  let out: JsonValue = structuredClone(body);
  const nested: Array<{ marker: string; depth: number; value: JsonValue }> = [];
  for (const m of mutations) {
    if (out === null || typeof out !== "object" || Array.isArray(out)) break;
    const obj: Record<string, JsonValue> = out;
    const keys = Object.keys(obj);
    const key = keys.length ? keys[("at" in m ? m.at : 0) % keys.length] : undefined;
    switch (m.op) {
      case "drop":
        if (key !== undefined) delete obj[key];
        break;
      case "set":
        // defineProperty: a key named __proto__ must become a field, as JSON.parse would make it.
        Object.defineProperty(obj, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
        break;
      case "retype":
        if (key !== undefined) obj[key] = m.value;
        break;
      case "nest":
        if (key !== undefined) {
          const marker = `@@nest${nested.length}@@`;
          nested.push({ marker, depth: m.depth, value: obj[key] });
          obj[key] = marker;
        }
        break;
      case "wrap":
        out = m.as === "array" ? [obj] : m.as === "string" ? JSON.stringify(obj) : null;
        break;
    }
  }
  let text = JSON.stringify(out);
  // Innermost last: a later nest may have wrapped an earlier marker's key again.
  for (const n of nested.reverse()) text = text.replace(JSON.stringify(n.marker), () => `${"[".repeat(n.depth)}${JSON.stringify(n.value)}${"]".repeat(n.depth)}`);
  return text;
}

/** A REST body: any JSON at all, or a seed-style body (by index) mutated. */
export type RestBody = { kind: "json"; value: JsonValue } | { kind: "seed"; seed: number; mutations: JsonMutation[] } | { kind: "text"; text: string } | { kind: "none" };

/** REST bodies, mostly seed-shaped so that mutations reach the handlers. */
export const restBody: fc.Arbitrary<RestBody> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("json" as const), value: anyJson(3) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("seed" as const), seed: fc.nat(), mutations: fc.array(jsonMutation, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("text" as const), text: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("{", "[1,", '{"a":1}{', "\u0000", "nul", '"\\ud800"')) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
);

/** Path segments as sent (already percent-encoded where needed), including ones that decode badly. */
export const rawSegment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 16 }).map(encodeURIComponent),
  fc.string({ unit: "binary-ascii", maxLength: 16 }).map(encodeURIComponent),
  fc.constantFrom("..", ".", "%", "%zz", "%00", "%2F", "a%2Fb", "%C0%AF", "%ED%A0%80", "%FF", "%E2%82", "%25", "+", "~", "%20", "*", "{node_id}", "__proto__", "constructor"),
  fc.integer({ min: 256, max: 2000 }).map((n) => "a".repeat(n)),
);

/** Query strings: field names (dotted too) with numbers, enum names and text that fail to convert. */
export const queryString: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fieldName, fc.constantFrom("requirements.spread_label", "status.x", "a.b.c", "page_size", "label_selector", "include_revoked")),
      fc.oneof(rawSegment, fc.constantFrom("-1", "1e400", "true", "maybe", "online", "NODE_STATUS_OFFLINE", "99999999999", "0x10", "", " ")),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join("&")}` : ""));

/** A printable header value (no CR/LF: those would split the request, not fuzz it). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** Header values: random text, odd bytes, lies about the body, forged peers, very long values. */
export function headerValue(secrets: { admin: string; reader: string; node: string }): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: headerText },
    { weight: 3, arbitrary: fc.constantFrom(
      `Bearer ${secrets.admin}`, `Bearer ${secrets.node}`, `Bearer ${secrets.reader}`, "Bearer", "bearer  x", "Basic Og==",
      '{"address":"127.0.0.1","certNames":["fuzz-seed-0"]}', '{"address":1}', "null", "[]", "{",
      "application/json", "application/proto", "application/grpc", "application/connect+proto", "multipart/form-data; boundary=x", "text/plain",
      "1", "-1", "0", "99999999999999999999", "gzip", "br", "identity", "chunked", "100-continue", "h2c", "websocket",
      "caf\u00e9", "\u00ff\u00fe", "a\u0001b", "\t",
    ) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 12_000 }).map((n) => "x".repeat(n)) },
  );
}

/** Header names: the ones the server reads, and any other token. */
export const headerName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "authorization", "content-type", "content-length", "x-capstan-gateway-peer", "x-capstan-node-token", "x-forwarded-for", "x-forwarded-host",
    "x-forwarded-proto", "x-request-id", "accept", "accept-encoding", "content-encoding", "connect-protocol-version", "connect-timeout-ms",
    "grpc-timeout", "grpc-encoding", "te", "origin", "access-control-request-method", "expect", "upgrade", "transfer-encoding", "cookie", "range",
  ),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
);
