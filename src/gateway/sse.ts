import { type DescMessage, type DescMethodServerStreaming, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ConnectError, type Transport } from "@connectrpc/connect";
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { errorBody } from "./http-errors.js";

type Res = ServerResponse | Http2ServerResponse;

/** One server-streaming call answered as Server-Sent Events. */
export interface SseCall {
  res: Res;
  transport: Transport;
  method: DescMethodServerStreaming;
  message: unknown;
  header: Headers;
  signal: AbortSignal;
  /** The response field path whose value is each event's `id:` (empty: no ids). */
  eventIdPath: readonly string[];
  /** Renders a response message as the REST dialect's JSON. */
  render: (schema: DescMessage, message: unknown) => JsonValue;
}

/**
 * Streams a server-streaming RPC's messages as Server-Sent Events (the HTML
 * standard's text/event-stream): each message one `data:` line of JSON, with
 * an `id:` when the method names one, so a browser's EventSource (or `curl
 * -N`) follows it and resumes with Last-Event-ID. The headers go out only
 * with the first message or error: a call refused before its first message
 * (bad token, bad topic, index too old) answers its HTTP status and JSON
 * error as any REST call does; a failure after that ends the stream with an
 * `event: error` carrying the same JSON.
 */
export async function streamSse(call: SseCall): Promise<void> {
  const res = call.res as ServerResponse;
  const response = await call.transport.stream(call.method as never, call.signal, undefined, call.header, oneMessage(call.message as never), undefined);
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      // Proxies (nginx) must not buffer a stream that is meant to arrive as it happens.
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
  };
  try {
    for await (const message of response.message as AsyncIterable<unknown>) {
      start();
      const json = call.render(call.method.output, message);
      const id = idOf(json, call.eventIdPath);
      // Backpressure: a slow reader pauses the call (and the feed reads behind it), not memory.
      if (!res.write(`${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(json)}\n\n`)) await once(res, "drain", { signal: call.signal });
    }
    start();
    res.end();
  } catch (err) {
    if (!started) throw err;
    if (!res.destroyed) res.end(`event: error\ndata: ${JSON.stringify(errorBody(ConnectError.from(err)))}\n\n`);
  }
}

/** The value at a dotted path of rendered JSON, as text. */
function idOf(json: JsonValue, path: readonly string[]): string | undefined {
  if (path.length === 0) return undefined;
  let v: JsonValue | undefined = json;
  for (const key of path) v = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as JsonObject)[key] : undefined;
  return v === undefined || v === null ? undefined : String(v);
}

async function* oneMessage<T>(message: T): AsyncIterable<T> {
  yield message;
}

