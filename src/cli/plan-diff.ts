/** One change of an apply plan, as the server answers it (ServiceChange). */
export interface PlanChange {
  serviceName: string;
  action: string;
  fromReplicas: number;
  toReplicas: number;
  placements: Record<string, string>;
  unplaced: readonly string[];
}

/** A service as JSON (the API's names), keyed by its fields. */
export type ServiceJson = Record<string, unknown>;

const MARK: Record<string, string> = { create: "+", update: "~", delete: "-", unchanged: "=" };

/**
 * The plan as a diff, one block per service: "+" created, "~" updated, "-"
 * deleted, "=" unchanged; replicas from → to, where new replicas would go,
 * what cannot be placed; for an update, each field the document sets that
 * differs from the stored service ("-" old, "+" new). Env values never show:
 * the server redacts them, so env compares by key.
 */
export function planDiff(changes: readonly PlanChange[], current: ReadonlyMap<string, ServiceJson>, wanted: ReadonlyMap<string, ServiceJson>): string {
  const lines: string[] = [];
  for (const c of changes) {
    const mark = MARK[c.action] ?? "?";
    lines.push(`${mark} ${c.serviceName} (${c.action}, replicas ${c.fromReplicas} -> ${c.toReplicas})`);
    if (c.action === "update") {
      const before = current.get(c.serviceName) ?? {};
      const after = wanted.get(c.serviceName) ?? {};
      lines.push(...fieldDiff(before, after).map((l) => `    ${l}`));
    }
    const slots = Object.keys(c.placements).sort((a, b) => Number(a) - Number(b));
    if (slots.length > 0) lines.push(`    new replicas on: ${slots.map((s) => c.placements[s]).join(", ")}`);
    for (const u of c.unplaced) lines.push(`    ! unplaced: ${u}`);
  }
  return lines.length > 0 ? lines.join("\n") + "\n" : "no changes\n";
}

/** The fields the new document sets that differ from the stored service. */
export function fieldDiff(before: ServiceJson, after: ServiceJson): string[] {
  const out: string[] = [];
  for (const key of Object.keys(after).sort()) {
    if (key === "env") {
      const was = Object.keys((before.env as Record<string, unknown> | undefined) ?? {});
      const now = Object.keys((after.env as Record<string, unknown> | undefined) ?? {});
      const added = now.filter((k) => !was.includes(k));
      const removed = was.filter((k) => !now.includes(k));
      if (added.length > 0) out.push(`+ env: ${added.join(", ")}`);
      if (removed.length > 0) out.push(`- env: ${removed.join(", ")}`);
      continue;
    }
    const a = JSON.stringify(canonical(before[key]));
    const b = JSON.stringify(canonical(after[key]));
    if (a === b) continue;
    if (before[key] !== undefined) out.push(`- ${key}: ${a}`);
    out.push(`+ ${key}: ${b}`);
  }
  return out;
}

// Objects compare by content whatever their key order.
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}
