import http from "node:http";

/** An HTTP/1.1 answer with its JSON body parsed (when it is JSON). */
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/**
 * One HTTP/1.1 request. `localAddress` picks the source address (e.g.
 * 127.0.0.2, still loopback, to look like another client to the server).
 */
export function httpRequest(
  url: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<HttpAnswer> {
  const u = new URL(url);
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method ?? (body === undefined ? "GET" : "POST"),
        localAddress: options.localAddress,
        // Seed 004's nodes send Connection: close on every request.
        headers: { connection: "close", ...(body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let json: unknown;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
