/** One segment of a compiled path template. */
type Segment = { literal: string } | { variable: string; wildcard: "*" | "**" };

/** A compiled google.api.http path template, e.g. "/api/v1/nodes/{node_id}". */
export interface PathTemplate {
  readonly source: string;
  /** Literal segments count, for ordering: more specific templates match first. */
  readonly literals: number;
  /** Field path → value, or undefined when the path does not match. */
  match(path: string): Record<string, string> | undefined;
  /** The OpenAPI form: "/api/v1/nodes/{node_id}". */
  readonly openApiPath: string;
  readonly variables: readonly string[];
}

/**
 * Compiles a path template: literal segments, `{field}` (one segment),
 * `{field=*}` and `{field=**}` (the rest of the path). Field paths may be
 * dotted (`{node.id}`).
 */
export function compileTemplate(source: string): PathTemplate {
  if (!source.startsWith("/")) throw new Error(`path template "${source}" must start with /`);
  const segments: Segment[] = source
    .slice(1)
    .split("/")
    .map((part) => {
      const m = /^\{([a-zA-Z0-9_.]+)(?:=(\*\*?))?\}$/.exec(part);
      if (m) return { variable: m[1], wildcard: (m[2] ?? "*") as "*" | "**" };
      if (part.includes("{")) throw new Error(`unsupported path template segment "${part}" in "${source}"`);
      return { literal: part };
    });
  const variables = segments.flatMap((s) => ("variable" in s ? [s.variable] : []));
  return {
    source,
    literals: segments.filter((s) => "literal" in s).length,
    variables,
    openApiPath: `/${segments.map((s) => ("literal" in s ? s.literal : `{${s.variable}}`)).join("/")}`,
    match(path) {
      const parts = path.slice(1).split("/");
      const out: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const seg = segments[i];
        if ("literal" in seg) {
          if (parts[i] !== seg.literal) return undefined;
          continue;
        }
        if (seg.wildcard === "**") {
          const rest = parts.slice(i).join("/");
          if (rest === "") return undefined;
          out[seg.variable] = decode(rest);
          return out;
        }
        if (parts[i] === undefined || parts[i] === "") return undefined;
        out[seg.variable] = decode(parts[i]);
      }
      return parts.length === segments.length ? out : undefined;
    },
  };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
