import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "../../gen/proto/google/api/annotations_pb.js";
import type { HttpRule } from "../../gen/proto/google/api/http_pb.js";
import { http_response } from "../../gen/proto/capstan/v1/http_options_pb.js";
import { listShape, type ListShape } from "./all-pages.js";
import { compileTemplate, type PathTemplate } from "./path-template.js";

/** One REST binding of an RPC. */
export interface HttpBinding {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly verb: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  readonly template: PathTemplate;
  /** "*" (the whole request), a field name (that field), or "" (no body). */
  readonly body: string;
  readonly successCode: number;
  /** Emit lowerCamelCase JSON names instead of the proto field names. */
  readonly camelCase: boolean;
  /** Set for lists marked all_pages_when_unpaged: without paging parameters, every item is streamed. */
  readonly allPages: ListShape | undefined;
  /** Server-streaming methods answer Server-Sent Events: Last-Event-ID sets this request field, and each event's id is the response field at this path. */
  readonly sse: { readonly lastEventIdField: string; readonly eventIdPath: readonly string[] } | undefined;
  /** Unique per binding, for OpenAPI. */
  readonly operationId: string;
}

function verbOf(rule: HttpRule): { verb: HttpBinding["verb"]; path: string } | undefined {
  const p = rule.pattern;
  switch (p.case) {
    case "get":
      return { verb: "GET", path: p.value };
    case "post":
      return { verb: "POST", path: p.value };
    case "put":
      return { verb: "PUT", path: p.value };
    case "delete":
      return { verb: "DELETE", path: p.value };
    case "patch":
      return { verb: "PATCH", path: p.value };
    default:
      return undefined;
  }
}

function requireListShape(method: DescMethod): ListShape {
  const shape = listShape(method);
  if (!shape) throw new Error(`${method.parent.typeName}/${method.name} is marked all_pages_when_unpaged but is not a paged list`);
  return shape;
}

/**
 * Reads every unary and server-streaming method's google.api.http rule (and its additional
 * bindings) plus Capstan's http_response option. Adding an annotation adds a
 * path; nothing here names one.
 */
export function readBindings(services: readonly DescService[]): HttpBinding[] {
  const out: HttpBinding[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if ((method.methodKind !== "unary" && method.methodKind !== "server_streaming") || !hasOption(method, http)) continue;
      const rule = getOption(method, http);
      const response = hasOption(method, http_response) ? getOption(method, http_response) : undefined;
      const rules = [rule, ...rule.additionalBindings];
      rules.forEach((r, i) => {
        const v = verbOf(r);
        if (!v) return;
        out.push({
          service,
          method,
          verb: v.verb,
          template: compileTemplate(v.path),
          body: r.body,
          successCode: response?.successCode || 200,
          camelCase: response?.camelCaseJson ?? false,
          allPages: response?.allPagesWhenUnpaged ? requireListShape(method) : undefined,
          sse:
            method.methodKind === "server_streaming"
              ? { lastEventIdField: response?.sseLastEventIdField ?? "", eventIdPath: (response?.sseEventIdField ?? "").split(".").filter(Boolean) }
              : undefined,
          operationId: `${service.name}_${method.name}${i === 0 ? "" : `_${i}`}`,
        });
      });
    }
  }
  return out;
}
