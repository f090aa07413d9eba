const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as "15s", "500ms", "2m", "1h30m" or "1.5s" into
 * milliseconds. Returns undefined for anything else, so callers can name the
 * offending setting in their own error.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(trimmed); m !== null; m = part.exec(trimmed)) {
    total += Number(m[1]) * units[m[2]];
    consumed = part.lastIndex;
  }
  return consumed === trimmed.length ? Math.round(total) : undefined;
}
