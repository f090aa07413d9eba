import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { HttpBinding } from "./http-rules.js";

type Schema = Record<string, unknown>;

const WKT: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?\\d+(\\.\\d+)?s$" },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object" },
};

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return { type: "string", pattern: "^-?\\d+$" };
    default:
      return { type: "integer" };
  }
}

function enumSchema(e: DescEnum): Schema {
  return { type: "string", enum: e.values.map((v) => v.localName.toLowerCase()), description: `${e.typeName}; the full names (${e.values[0]?.name} ...) and numbers are accepted too` };
}

/**
 * The OpenAPI 3.1 document, generated from the same descriptors and
 * google.api.http rules the gateway routes by, in the gateway's JSON dialect
 * (field names per method, short lower-case enum names).
 */
export function buildOpenApi(bindings: readonly HttpBinding[], info: { title: string; version: string }): Record<string, unknown> {
  const components: Record<string, Schema> = {};
  const ref = (m: DescMessage, camel: boolean): Schema => {
    if (WKT[m.typeName]) return WKT[m.typeName];
    const name = `${m.typeName}${camel ? ".camel" : ""}`;
    if (!components[name]) {
      components[name] = {};
      const properties: Record<string, Schema> = {};
      for (const f of m.fields) properties[camel ? f.jsonName : f.name] = fieldSchema(f, camel);
      components[name] = { type: "object", properties, additionalProperties: false };
    }
    return { $ref: `#/components/schemas/${name}` };
  };
  const fieldSchema = (f: DescField, camel: boolean): Schema => {
    const one = (kind: string): Schema =>
      kind === "enum" && f.enum ? enumSchema(f.enum) : kind === "message" && f.message ? ref(f.message, camel) : f.scalar !== undefined ? scalarSchema(f.scalar) : {};
    switch (f.fieldKind) {
      case "scalar":
        return scalarSchema(f.scalar);
      case "enum":
        return enumSchema(f.enum);
      case "message":
        return ref(f.message, camel);
      case "list":
        return { type: "array", items: one(f.listKind) };
      case "map":
        return { type: "object", additionalProperties: one(f.mapKind) };
    }
  };
  const error: Schema = {
    type: "object",
    properties: {
      code: { type: "string" },
      message: { type: "string" },
      field: { type: "string" },
      detail: { type: "string" },
      details: { type: "array", items: { type: "object" } },
      issues: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
    },
    required: ["code", "message"],
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const b of bindings) {
    const input = b.method.input;
    const pathVars = new Set(b.template.variables);
    const parameters = b.template.variables.map((v) => ({ name: v, in: "path", required: true, schema: { type: "string" } }));
    if (b.body !== "*") {
      for (const f of input.fields) {
        if (pathVars.has(f.name) || f.name === b.body || f.fieldKind === "message" || f.fieldKind === "map") continue;
        parameters.push({ name: f.name, in: "query", required: false, schema: fieldSchema(f, false) as { type: string } });
      }
    }
    const bodyField = b.body !== "" && b.body !== "*" ? input.fields.find((f) => f.name === b.body) : undefined;
    const requestSchema = b.body === "*" ? ref(input, b.camelCase) : bodyField ? fieldSchema(bodyField, b.camelCase) : undefined;
    const op: Record<string, unknown> = {
      operationId: b.operationId,
      summary: b.method.name.replace(/([a-z])([A-Z])/g, "$1 $2"),
      description: `RPC ${b.service.typeName}/${b.method.name}, transcoded.`,
      tags: [b.service.name],
      parameters,
      responses: {
        [String(b.successCode)]: { description: "OK", content: { "application/json": { schema: ref(b.method.output, b.camelCase) } } },
        default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    };
    if (requestSchema) op.requestBody = { required: false, content: { "application/json": { schema: requestSchema } } };
    (paths[b.template.openApiPath] ??= {})[b.verb.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, description: "Capstan's REST API: every path is a google.api.http binding of an RPC in proto/capstan/v1." },
    paths,
    components: { schemas: { ...components, Error: error } },
  };
}
