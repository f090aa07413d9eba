import { toJson, type DescEnum, type DescField, type DescMessage, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import { inputAliases, outputAliases } from "./compat.js";

/**
 * Capstan's REST JSON dialect over the protobuf JSON mapping:
 *  - field names: the proto names (snake_case) by default, which the seed
 *    clients read; lowerCamelCase for methods marked camel_case_json;
 *  - enums: the value's short name in lower case, its type prefix dropped
 *    (NODE_STATUS_ONLINE → "online"); on input the full name, the short name
 *    in any case, or the number;
 *  - fields with default values are always present ("count": 0, "nodes": []);
 *  - seed spellings: per-message aliases from compat.ts.
 */

/** The short form of an enum value: "online" for NODE_STATUS_ONLINE. */
export function shortEnumName(e: DescEnum, value: number): string | undefined {
  const v = e.values.find((x) => x.number === value);
  return v?.localName.toLowerCase();
}

/** Resolves an enum value given as full name, short name (any case) or number. */
export function enumFromText(e: DescEnum, text: string): string | number | undefined {
  if (/^-?\d+$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  const v = e.values.find((x) => x.name.toLowerCase() === lower || x.localName.toLowerCase() === lower);
  return v?.name;
}

const isWkt = (m: DescMessage) => m.typeName.startsWith("google.protobuf.");

/** A message as REST JSON in Capstan's dialect. */
export function renderJson(schema: DescMessage, message: Message, camel: boolean): JsonValue {
  const json = toJson(schema, message, { useProtoFieldName: !camel, alwaysEmitImplicit: true });
  return walkOut(schema, json, camel);
}

function walkOut(desc: DescMessage, json: JsonValue, camel: boolean): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json) || isWkt(desc)) return json;
  const obj = json as JsonObject;
  for (const field of desc.fields) {
    const key = camel ? field.jsonName : field.name;
    if (!(key in obj)) continue;
    obj[key] = convertOut(field, obj[key], camel);
  }
  if (!camel) outputAliases[desc.typeName]?.(obj);
  return obj;
}

/** Applies `one` to a field's value, element by element for lists and maps. */
function mapField(field: DescField, value: JsonValue, one: (kind: string, v: JsonValue, e?: DescEnum, m?: DescMessage) => JsonValue): JsonValue {
  switch (field.fieldKind) {
    case "enum":
      return one("enum", value, field.enum);
    case "message":
      return one("message", value, undefined, field.message);
    case "list":
      return Array.isArray(value) ? value.map((v) => one(field.listKind, v, field.enum, field.message)) : value;
    case "map":
      if (value && typeof value === "object" && !Array.isArray(value)) {
        for (const k of Object.keys(value)) value[k] = one(field.mapKind, value[k], field.enum, field.message);
      }
      return value;
    default:
      return value;
  }
}

function convertOut(field: DescField, value: JsonValue, camel: boolean): JsonValue {
  return mapField(field, value, (kind, v, e, m) => {
    if (kind === "enum" && e && typeof v === "string") {
      const num = e.values.find((x) => x.name === v)?.number;
      return num === undefined ? v : (shortEnumName(e, num) ?? v);
    }
    if (kind === "message" && m) return walkOut(m, v, camel);
    return v;
  });
}

/**
 * Normalises request JSON before protobuf's strict parser sees it: seed
 * aliases (compat.ts), then enums given in the short form. Unknown fields are
 * left in place so the parser rejects them by name.
 */
export function normalizeInput(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json) || isWkt(desc)) return json;
  let obj = json as JsonObject;
  const alias = inputAliases[desc.typeName];
  if (alias) obj = alias(obj);
  for (const field of desc.fields) {
    for (const key of new Set([field.name, field.jsonName])) {
      if (key in obj) obj[key] = convertIn(field, obj[key]);
    }
  }
  return obj;
}

function convertIn(field: DescField, value: JsonValue): JsonValue {
  return mapField(field, value, (kind, v, e, m) => {
    if (kind === "enum" && e && typeof v === "string") return enumFromText(e, v) ?? v;
    if (kind === "message" && m) return normalizeInput(m, v);
    return v;
  });
}
