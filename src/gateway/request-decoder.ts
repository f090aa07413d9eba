import { ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HttpBinding } from "./http-rules.js";

/** Finds a field by its proto name or JSON name. */
function fieldOf(desc: DescMessage, name: string): DescField | undefined {
  return desc.fields.find((f) => f.name === name || f.jsonName === name);
}

/** Converts a text value (path or query) to the JSON a scalar or enum field takes. */
function scalarFromText(field: DescField, text: string, where: string): JsonValue {
  const scalar = field.fieldKind === "scalar" ? field.scalar : field.fieldKind === "list" && field.listKind === "scalar" ? field.scalar : undefined;
  if (scalar === undefined) return text;
  switch (scalar) {
    case ScalarType.BOOL:
      if (text === "true" || text === "1" || text === "") return true;
      if (text === "false" || text === "0") return false;
      throw new ConnectError(`${where}: "${text}" is not a boolean`, Code.InvalidArgument);
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return text;
    default: {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw new ConnectError(`${where}: "${text}" is not a number`, Code.InvalidArgument);
      return n;
    }
  }
}

/** Sets a dotted field path (e.g. "requirements.spread_label") from text. */
function setFromText(desc: DescMessage, target: JsonObject, path: string, text: string, where: string): void {
  const parts = path.split(".");
  let d = desc;
  let obj = target;
  for (let i = 0; i < parts.length; i++) {
    const field = fieldOf(d, parts[i]);
    if (!field) throw new ConnectError(`${where}: unknown parameter "${path}"`, Code.InvalidArgument);
    const last = i === parts.length - 1;
    if (!last) {
      if (field.fieldKind !== "message") throw new ConnectError(`${where}: "${parts.slice(0, i + 1).join(".")}" has no fields`, Code.InvalidArgument);
      obj = (obj[field.name] ??= {}) as JsonObject;
      d = field.message;
      continue;
    }
    if (field.fieldKind === "list") {
      const list = (obj[field.name] ??= []) as JsonValue[];
      list.push(scalarFromText(field, text, where));
    } else if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
      obj[field.name] = scalarFromText(field, text, where);
    } else {
      throw new ConnectError(`${where}: "${path}" cannot be set from a query parameter`, Code.InvalidArgument);
    }
  }
}

/**
 * Builds the request's JSON from the REST call, following the binding: the
 * body (all of it, or one field), then path variables, then (for bindings
 * without a body) query parameters.
 */
export function decodeRequest(binding: HttpBinding, pathParams: Record<string, string>, query: URLSearchParams, body: JsonValue | undefined): JsonObject {
  const desc = binding.method.input;
  let json: JsonObject = {};
  if (binding.body === "*") {
    if (body !== undefined) {
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new ConnectError("request body must be a JSON object", Code.InvalidArgument);
      }
      json = { ...body };
    }
  } else if (binding.body !== "") {
    if (body !== undefined) json[binding.body] = body;
  }
  for (const [path, value] of Object.entries(pathParams)) {
    // The path names the resource; a body that disagrees is overruled, not merged.
    for (const key of Object.keys(json)) if (fieldOf(desc, key)?.name === path) delete json[key];
    setFromText(desc, json, path, value, "path");
  }
  if (binding.body !== "*") {
    const bodyField = binding.body === "" ? undefined : fieldOf(desc, binding.body)?.name;
    for (const [key, value] of query) {
      if (bodyField && key.split(".")[0] === bodyField) continue;
      setFromText(desc, json, key, value, "query");
    }
  }
  return json;
}
