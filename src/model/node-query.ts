import { InvalidArgumentError } from "./errors.js";

/** Parses "k=v,k2=v2" into pairs; an empty selector matches everything. */
export function parseLabelSelector(selector: string): Array<[string, string]> {
  if (selector.trim() === "") return [];
  return selector.split(",").map((part) => {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || key === "") throw new InvalidArgumentError("label_selector", `"${part}" is not key=value`);
    return [key, part.slice(eq + 1).trim()];
  });
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/**
 * Cuts one page out of items ordered by id. The token is the last id of the
 * previous page (opaque to clients), so pages stay stable while items change.
 */
export function pageOf<T extends { id: string }>(
  items: T[],
  pageSize: number,
  pageToken: string,
): { nodes: T[]; count: number; nextPageToken: string } {
  if (!Number.isInteger(pageSize) || pageSize < 0) throw new InvalidArgumentError("page_size", "must be a whole number at or above 0");
  const size = Math.min(pageSize || DEFAULT_PAGE, MAX_PAGE);
  let start = 0;
  if (pageToken !== "") {
    let after: string;
    try {
      after = Buffer.from(pageToken, "base64url").toString("utf8");
    } catch {
      throw new InvalidArgumentError("page_token", "is not a token from a previous response");
    }
    if (after === "") throw new InvalidArgumentError("page_token", "is not a token from a previous response");
    start = lowerBound(items, after);
  }
  const page = items.slice(start, start + size);
  const more = start + size < items.length;
  return {
    nodes: page,
    count: items.length,
    nextPageToken: more ? Buffer.from(page[page.length - 1].id, "utf8").toString("base64url") : "",
  };
}

/** Index of the first item whose id sorts after `after`. */
function lowerBound<T extends { id: string }>(items: T[], after: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid].id <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
