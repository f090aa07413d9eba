import type { DescField, DescMethod, JsonObject, JsonValue, Message } from "@bufbuild/protobuf";
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

type Res = ServerResponse | Http2ServerResponse;

/**
 * Items fetched per slice of an unpaged seed list: the largest page a list
 * RPC gives (MAX_PAGE_SIZE is 1000) would hold the event loop for tens of
 * milliseconds at a time per client; 250 keeps each turn short while the
 * per-call overhead stays small next to the items' own cost.
 */
export const SLICE_SIZE = 250;

/** The paging fields of a list method: where its items and its next token are. */
export interface ListShape {
  readonly items: DescField;
  readonly nextToken: DescField;
}

/**
 * The list shape of a method whose request has page_size and page_token and
 * whose response has next_page_token and exactly one repeated field (the
 * items); undefined for any other method.
 */
export function listShape(method: DescMethod): ListShape | undefined {
  const input = method.input.fields.map((f) => f.name);
  if (!input.includes("page_size") || !input.includes("page_token")) return undefined;
  const nextToken = method.output.fields.find((f) => f.name === "next_page_token");
  const lists = method.output.fields.filter((f) => f.fieldKind === "list");
  if (!nextToken || lists.length !== 1) return undefined;
  return { items: lists[0], nextToken };
}

/**
 * Turns for slices, first come first served, one per event-loop iteration:
 * between two slices (of one list or of several served at once) the loop
 * polls for I/O, so a heartbeat waits for at most one slice, not for one
 * slice of every list in progress. One per gateway.
 */
export class SliceTurns {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  /** Resolves when it is this caller's turn to build a slice. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // An immediate set from inside an immediate runs on the next iteration, after I/O.
    setImmediate(() => {
      this.scheduled = false;
      this.waiting.shift()?.();
      if (this.waiting.length > 0) this.schedule();
    });
  }
}

/** How to stream one list. */
export interface AllPagesCall {
  res: Res;
  status: number;
  shape: ListShape;
  camelCase: boolean;
  turns: SliceTurns;
  /** Calls the list RPC for the page after `token` ("" for the first), SLICE_SIZE items. */
  fetch: (token: string) => Promise<Message>;
  /** The response message as REST JSON (the gateway's dialect). */
  render: (message: Message) => JsonValue;
}

/**
 * Answers a list with every item, for seed clients that never page: the
 * list RPC is called a slice at a time (with keyset tokens, so items are
 * neither repeated nor skipped while the list changes), each slice is
 * rendered and written as soon as it arrives, and the event loop gets a turn
 * between slices, so heartbeats keep flowing while a 50,000-node list is
 * served. Memory holds one slice per client: the next slice is fetched only
 * once the socket has taken the previous one.
 *
 * The body is the RPC's own JSON shape: the first slice's other fields (a
 * count, a total), every item, and an empty next_page_token. A failure before
 * the first byte is thrown (the caller answers it as usual); after it, the
 * connection is cut, so a client never reads a shorter list as complete.
 */
export async function streamAllPages(call: AllPagesCall): Promise<void> {
  const { res, shape } = call;
  const itemsKey = call.camelCase ? shape.items.jsonName : shape.items.name;
  const tokenKey = call.camelCase ? shape.nextToken.jsonName : shape.nextToken.name;
  await call.turns.next();
  const first = await call.fetch("");
  const head = call.render(first) as JsonObject;
  let items = (head[itemsKey] ?? []) as JsonValue[];
  let next = tokenOf(first, shape);
  delete head[itemsKey];
  delete head[tokenKey];
  (res as ServerResponse).writeHead(call.status, { "content-type": "application/json; charset=utf-8" });
  try {
    const others = JSON.stringify(head).slice(1, -1);
    let written = 0;
    await write(res, `{${others}${others === "" ? "" : ","}${JSON.stringify(itemsKey)}:[`);
    for (;;) {
      if (items.length > 0) {
        await write(res, (written > 0 ? "," : "") + JSON.stringify(items).slice(1, -1));
        written += items.length;
      }
      if (next === "") break;
      // Give heartbeats and other calls their turn before building the next slice.
      await call.turns.next();
      if (res.destroyed) return;
      const page = await call.fetch(next);
      items = ((call.render(page) as JsonObject)[itemsKey] ?? []) as JsonValue[];
      next = tokenOf(page, shape);
    }
    res.end(`],${JSON.stringify(tokenKey)}:""}`);
  } catch (err) {
    res.destroy();
    throw err;
  }
}

function tokenOf(message: Message, shape: ListShape): string {
  return String((message as unknown as Record<string, unknown>)[shape.nextToken.localName] ?? "");
}

/** Writes a chunk; waits for the socket to drain when its buffer is full, so a slow client holds one slice, not the list. */
function write(res: Res, chunk: string): Promise<void> {
  if ((res as ServerResponse).write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      res.off("drain", done);
      res.off("close", closed);
      if (err) reject(err);
      else resolve();
    };
    const closed = () => done(new Error("client closed the connection"));
    res.on("drain", done);
    res.on("close", closed);
  });
}
