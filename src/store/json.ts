/** Parses a JSON column, falling back when a row predates the field. */
export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === "") return fallback;
  return JSON.parse(text) as T;
}

/** Serialises a JSON column. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}
