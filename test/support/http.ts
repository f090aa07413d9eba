import { httpRequest as wireRequest } from "./wire.js";

/** An HTTP/1.1 answer with its JSON body parsed (when it is JSON). */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: any;
}

/**
 * One HTTP/1.1 request, as the e2e tests make them: a JSON body in, the
 * answer's JSON out. `localAddress` picks the source address (e.g. 127.0.0.2,
 * still loopback, to look like another client to the server).
 */
export async function httpRequest(
  url: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<HttpAnswer> {
  const u = new URL(url);
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  const outcome = await wireRequest(u.origin, {
    method: options.method ?? (body === undefined ? "GET" : "POST"),
    path: u.pathname + u.search,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
    body,
    timeoutMs: 15_000,
    localAddress: options.localAddress,
  });
  if (outcome.kind !== "answer") throw new Error(`no answer from ${url}: ${outcome.kind === "broken" ? outcome.error : outcome.kind}`);
  const text = outcome.answer.body.toString("utf8");
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: outcome.answer.status, headers: outcome.answer.headers, text, json };
}
