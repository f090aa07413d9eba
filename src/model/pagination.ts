import { InvalidArgumentError } from "./errors.js";

/**
 * Paging for every list: keyset cursors, not offsets. A page token is the
 * base64url JSON of the list's order name and the key of the last item
 * returned, so it needs no server-side state (any replica can continue it)
 * and a list that changes between pages neither repeats nor skips the items
 * that stayed. Clients treat tokens as opaque.
 */

/** Items on a page when the caller does not say (page_size 0). */
export const DEFAULT_PAGE_SIZE = 100;
/** The most items on one page; a larger page_size gets this many. */
export const MAX_PAGE_SIZE = 1000;
// Tokens are short (a name and a key); anything longer is not one of ours.
const MAX_TOKEN_LENGTH = 1024;

/** One part of a sort key. */
export type KeyPart = string | number;
/** A sort key: compared part by part. */
export type PageKey = readonly KeyPart[];

/** The paging fields of every List*Request. */
export interface PageParams {
  pageSize: number;
  pageToken: string;
}

/** How a list is ordered: tokens carry the name, so one list's token is refused by another. */
export interface ListOrder<T> {
  /** e.g. "nodes.id"; part of every token. */
  readonly name: string;
  /** The kind of each key part, to check tokens against. */
  readonly parts: ReadonlyArray<"string" | "number">;
  /** The item's unique sort key. */
  readonly key: (item: T) => PageKey;
  /** Largest key first (newest-first lists). */
  readonly descending?: boolean;
}

/** What a token names: the order, not the items (any ListOrder is one). */
export type OrderName = Pick<ListOrder<unknown>, "name" | "parts">;

/** A validated paging request. */
export interface PageRequest {
  /** Items to return, 1..MAX_PAGE_SIZE. */
  size: number;
  /** Return only items after this key (in the list's order); undefined: from the start. */
  after: PageKey | undefined;
}

/** One page of a list. */
export interface Page<T> {
  items: T[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/** Declares a list order (a helper so call sites read as data). */
export function listOrder<T>(order: ListOrder<T>): ListOrder<T> {
  return order;
}

/** Orders keys part by part: numbers by value, strings by UTF-16 code units (as Array#sort). */
export function compareKeys(a: PageKey, b: PageKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** The token that continues `order` after the item with `key`. */
export function encodePageToken(order: OrderName, key: PageKey): string {
  return Buffer.from(JSON.stringify({ o: order.name, k: key }), "utf8").toString("base64url");
}

/** The key a token continues after; InvalidArgument naming page_token if it is not one of this list's. */
export function decodePageToken(order: OrderName, token: string): PageKey {
  const bad = (why: string) => new InvalidArgumentError("page_token", `is not a next_page_token of this list (${why})`);
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad("not base64url");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad("unreadable");
  }
  const { o, k } = (parsed ?? {}) as { o?: unknown; k?: unknown };
  if (typeof o !== "string" || !Array.isArray(k)) throw bad("unreadable");
  if (o !== order.name) throw bad("it belongs to another list");
  if (k.length !== order.parts.length || k.some((part, i) => typeof part !== order.parts[i] || (typeof part === "number" && !Number.isFinite(part)))) {
    throw bad("unreadable");
  }
  return k as PageKey;
}

/** Validates page_size and page_token; throws InvalidArgument naming the field. */
export function pageRequest(order: OrderName, params: PageParams): PageRequest {
  const { pageSize, pageToken } = params;
  if (!Number.isInteger(pageSize) || pageSize < 0) throw new InvalidArgumentError("page_size", "must be a whole number at or above 0");
  return {
    size: Math.min(pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    after: pageToken === "" ? undefined : decodePageToken(order, pageToken),
  };
}

/**
 * Cuts a page out of items already sorted in the list's order (finding the
 * cursor by binary search, so a page costs log n, not n).
 */
export function pageOfSorted<T>(items: readonly T[], order: ListOrder<T>, req: PageRequest): Page<T> {
  let start = 0;
  if (req.after !== undefined) {
    const after = req.after;
    const dir = order.descending ? -1 : 1;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (dir * compareKeys(order.key(items[mid]), after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const page = items.slice(start, start + req.size);
  const more = start + req.size < items.length;
  return { items: page, nextPageToken: more ? encodePageToken(order, order.key(page[page.length - 1])) : "" };
}

/** Sorts items in the list's order (for small lists kept in another order), then cuts the page. */
export function paginate<T>(items: readonly T[], order: ListOrder<T>, params: PageParams): Page<T> {
  const req = pageRequest(order, params);
  const dir = order.descending ? -1 : 1;
  const sorted = [...items].sort((a, b) => dir * compareKeys(order.key(a), order.key(b)));
  return pageOfSorted(sorted, order, req);
}

/**
 * The page from rows a store read with `limit: req.size + 1` after the
 * cursor: the extra row only says whether another page follows.
 */
export function pageOfRows<T>(rows: readonly T[], order: ListOrder<T>, req: PageRequest): Page<T> {
  const page = rows.slice(0, req.size);
  const more = rows.length > req.size;
  return { items: page, nextPageToken: more ? encodePageToken(order, order.key(page[page.length - 1])) : "" };
}
