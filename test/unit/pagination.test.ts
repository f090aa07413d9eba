import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/model/errors.js";
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  compareKeys,
  decodePageToken,
  encodePageToken,
  listOrder,
  pageOfRows,
  pageOfSorted,
  pageRequest,
  paginate,
  type PageKey,
} from "../../src/model/pagination.js";

interface Item {
  id: string;
  at: number;
}

const BY_ID = listOrder<Item>({ name: "items.id", parts: ["string"], key: (i) => [i.id] });
const NEWEST = listOrder<Item>({ name: "items.newest", parts: ["number", "string"], key: (i) => [i.at, i.id], descending: true });
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");

describe("page tokens", () => {
  it.each<[string, typeof BY_ID, PageKey]>([
    ["a plain id", BY_ID, ["node-1"]],
    ["an id with quotes, commas and non-ASCII", BY_ID, ['we"ird,ïd/+=']],
    ["an empty string", BY_ID, [""]],
    ["a time and an id", NEWEST, [1_796_000_000_123, "job-9"]],
    ["a zero time", NEWEST, [0, "x"]],
  ])("round-trips %s", (_, order, key) => {
    const token = encodePageToken(order, key);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(order, token)).toEqual(key);
  });

  it.each<[string, string, typeof BY_ID]>([
    ["characters outside base64url", "%%%garbage%%%", BY_ID],
    ["standard base64 padding", `${b64('{"o":"items.id","k":["a"]}')}==`, BY_ID],
    ["base64url that is not JSON", b64("not json"), BY_ID],
    ["JSON that is not a token", b64("[1,2]"), BY_ID],
    ["JSON null", b64("null"), BY_ID],
    ["another list's token", encodePageToken(NEWEST, [1, "a"]), BY_ID],
    ["a key of the wrong length", b64('{"o":"items.id","k":["a","b"]}'), BY_ID],
    ["a key part of the wrong type", b64('{"o":"items.newest","k":["1","a"]}'), NEWEST],
    ["a key without parts", b64('{"o":"items.id","k":[]}'), BY_ID],
    ["an overlong token", "A".repeat(2000), BY_ID],
    ["an offset (the old deployment tokens)", b64("100"), BY_ID],
  ])("refuses %s as InvalidArgument naming page_token", (_, token, order) => {
    const run = () => decodePageToken(order, token);
    expect(run).toThrowError(InvalidArgumentError);
    expect(run).toThrowError(/^page_token: /);
  });
});

describe("page size", () => {
  it.each([
    [0, DEFAULT_PAGE_SIZE],
    [1, 1],
    [37, 37],
    [MAX_PAGE_SIZE, MAX_PAGE_SIZE],
    [MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE],
    [2_000_000_000, MAX_PAGE_SIZE],
  ])("page_size %i gives pages of %i", (pageSize, size) => {
    expect(pageRequest(BY_ID, { pageSize, pageToken: "" }).size).toBe(size);
  });

  it.each([-1, -1000, 1.5, Number.NaN])("refuses page_size %d as InvalidArgument naming page_size", (pageSize) => {
    expect(() => pageRequest(BY_ID, { pageSize, pageToken: "" })).toThrowError(/^page_size: /);
  });

  it("documents a default of 100 and a maximum of 1000", () => {
    expect([DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE]).toEqual([100, 1000]);
  });
});

/** Every page of `items` at `size`, following tokens; returns the ids in order. */
function walk(items: Item[], order: typeof BY_ID, size: number): string[] {
  const seen: string[] = [];
  let token = "";
  for (let guard = 0; guard < 1000; guard++) {
    const page = paginate(items, order, { pageSize: size, pageToken: token });
    seen.push(...page.items.map((i) => i.id));
    if (page.nextPageToken === "") return seen;
    token = page.nextPageToken;
  }
  throw new Error("paging did not end");
}

describe("paging through a list", () => {
  const items: Item[] = Array.from({ length: 23 }, (_, n) => ({ id: `i${String(n).padStart(2, "0")}`, at: 1000 + Math.floor(n / 3) }));

  it.each([1, 2, 5, 22, 23, 24, 100])("returns every item exactly once at page size %i", (size) => {
    expect(walk(items, BY_ID, size)).toEqual(items.map((i) => i.id));
    const newest = walk(items, NEWEST, size);
    expect(newest).toHaveLength(items.length);
    expect(new Set(newest).size).toBe(items.length);
    // Newest first, ties (same time) by id descending.
    expect(newest).toEqual([...items].sort((a, b) => -compareKeys([a.at, a.id], [b.at, b.id])).map((i) => i.id));
  });

  it("an empty list is one empty last page", () => {
    expect(paginate([], BY_ID, { pageSize: 0, pageToken: "" })).toEqual({ items: [], nextPageToken: "" });
  });

  it("neither repeats nor skips the items that stay while the list changes between pages", () => {
    const list = items.slice(0, 10);
    const first = paginate(list, BY_ID, { pageSize: 4, pageToken: "" });
    // i01 (already returned) and i05 (not yet) are removed; i015 sorts between returned and pending.
    const changed = [...list.filter((i) => i.id !== "i01" && i.id !== "i05"), { id: "i035", at: 0 }];
    const rest = walk(changed, BY_ID, 4).filter((id) => id > first.items[3].id);
    const second = paginate(changed, BY_ID, { pageSize: 100, pageToken: first.nextPageToken });
    expect(second.items.map((i) => i.id)).toEqual(rest);
    expect(second.items.map((i) => i.id)).toEqual(["i035", "i04", "i06", "i07", "i08", "i09"]);
  });

  it("continues after a key that is no longer in the list", () => {
    const token = encodePageToken(BY_ID, ["i045"]);
    expect(paginate(items, BY_ID, { pageSize: 2, pageToken: token }).items.map((i) => i.id)).toEqual(["i05", "i06"]);
  });

  it("pageOfSorted finds the cursor in a descending list", () => {
    const sorted = [...items].sort((a, b) => -compareKeys(NEWEST.key(a), NEWEST.key(b)));
    const req = pageRequest(NEWEST, { pageSize: 3, pageToken: encodePageToken(NEWEST, NEWEST.key(sorted[4])) });
    expect(pageOfSorted(sorted, NEWEST, req).items).toEqual(sorted.slice(5, 8));
  });

  it("pageOfRows reads the extra row as 'more follow' and never returns it", () => {
    const req = pageRequest(BY_ID, { pageSize: 3, pageToken: "" });
    const more = pageOfRows(items.slice(0, 4), BY_ID, req);
    expect(more.items.map((i) => i.id)).toEqual(["i00", "i01", "i02"]);
    expect(decodePageToken(BY_ID, more.nextPageToken)).toEqual(["i02"]);
    expect(pageOfRows(items.slice(0, 3), BY_ID, req).nextPageToken).toBe("");
  });
});

describe("key order", () => {
  it.each<[PageKey, PageKey, number]>([
    [["a"], ["b"], -1],
    [["b"], ["a"], 1],
    [["a"], ["a"], 0],
    [[2, "a"], [10, "a"], -1],
    [[10, "a"], [10, "b"], -1],
    [["B"], ["a"], -1],
  ])("%j vs %j", (a, b, sign) => {
    expect(Math.sign(compareKeys(a, b))).toBe(sign);
  });
});
