import type { ValidationIssue } from "./errors.js";
import type { ServiceSpec } from "./service-spec.js";

/**
 * Checks the `dependencies` of an applied document against the services
 * there will be afterwards (the document's, plus the stored ones Apply keeps):
 * a name that is none of them, or a cycle (a service waiting, through its
 * dependencies, for itself, which would never start), is an issue at the
 * field path of the dependency that names it.
 */
export function dependencyIssues(applied: readonly ServiceSpec[], kept: readonly ServiceSpec[], base = "spec.services"): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const graph = new Map<string, readonly string[]>();
  for (const s of kept) graph.set(s.name, s.dependencies);
  for (const s of applied) graph.set(s.name, s.dependencies);
  applied.forEach((s, i) => {
    s.dependencies.forEach((d, j) => {
      const path = `${base}[${i}].dependencies[${j}]`;
      if (!graph.has(d)) issues.push({ path, message: `unknown service "${d}" (neither in this document nor already applied)` });
      else if (d === s.name) issues.push({ path, message: `"${s.name}" depends on itself` });
      else {
        const cycle = pathTo(graph, d, s.name);
        if (cycle) issues.push({ path, message: `dependency cycle: ${[s.name, ...cycle].join(" → ")}` });
      }
    });
  });
  return issues;
}

/** A path of dependencies from `from` to `to` (both included), or undefined. */
function pathTo(graph: ReadonlyMap<string, readonly string[]>, from: string, to: string): string[] | undefined {
  const seen = new Set<string>([from]);
  const stack: string[][] = [[from]];
  while (stack.length) {
    const path = stack.pop()!;
    const last = path[path.length - 1];
    if (last === to) return path;
    for (const next of graph.get(last) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push([...path, next]);
    }
  }
  return undefined;
}

/** How far one dependency is from ready: its desired replicas and those running. */
export interface DependencyState {
  name: string;
  /** undefined: no such service (deleted since the apply). */
  desired: number | undefined;
  running: number;
}

/** "waits for dependencies: db (1 of 2 running), cache (not applied)", or "" when every dependency runs all its replicas. */
export function dependencyWait(states: readonly DependencyState[]): string {
  const waiting = states.filter((d) => d.desired === undefined || d.running < d.desired);
  if (waiting.length === 0) return "";
  const parts = waiting.map((d) => (d.desired === undefined ? `${d.name} (not applied)` : `${d.name} (${d.running} of ${d.desired} running)`));
  return `waits for dependencies: ${parts.join(", ")}`;
}
