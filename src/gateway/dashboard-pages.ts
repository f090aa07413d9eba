import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

/**
 * The dashboard's only sources are this server: no inline script or style, no
 * other origin, not framed. The token lives in the page's session storage, so
 * a script from anywhere else must never run there.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const TYPES: Record<string, string> = {
  ".js": "application/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

// src/gateway/ (tsx), dist/src/gateway/ (compiled) and dist/server/ (the bundle) each sit at a
// different depth below the repository; dist/ui is found from whichever this file is.
const CANDIDATES = ["../../dist/ui", "../../../dist/ui", "../ui"].map((p) => fileURLToPath(new URL(p, import.meta.url)));

const MISSING = `The dashboard is not built: dist/ui/index.html is missing.
Build it with \`npm run build\` (or \`npm run build:ui\` for the dashboard alone); \`npm ci\` builds it too.
`;

/**
 * Serves the web dashboard's bundle (scripts/bundle-ui.mjs) at /ui: hashed
 * assets under /ui/assets/ cached for a year, and index.html, never cached, for
 * /ui and every client route under it (the page's router reads the path).
 * Returns false for other paths. `dir` overrides where dist/ui is (tests).
 */
export function createDashboardPages(dir?: string): (path: string, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => boolean {
  const cache = new Map<string, Buffer>();
  let root: string | undefined;
  // Looked for until found: a build made after the server started is served without a restart.
  const findRoot = () => (root ??= (dir === undefined ? CANDIDATES : [normalize(dir)]).find((c) => existsSync(join(c, "index.html"))));
  return (path, req, res) => {
    if (path !== "/ui" && !path.startsWith("/ui/")) return false;
    const base = findRoot();
    const headers = { "content-security-policy": DASHBOARD_CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY" };
    const write = (status: number, type: string, body: Buffer | string, cacheControl: string, extra: Record<string, string> = {}) => {
      (res as ServerResponse).writeHead(status, { ...headers, ...extra, "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": cacheControl });
      res.end(body);
    };
    if (!base) {
      write(503, "text/plain; charset=utf-8", MISSING, "no-store");
      return true;
    }
    const asset = path.startsWith("/ui/assets/") ? path.slice("/ui/".length) : undefined;
    const file = asset ? normalize(join(base, asset)) : join(base, "index.html");
    // A hashed asset that is not there is a 404, not the page: a stale page must not run HTML as script.
    if (asset && (!file.startsWith(base + sep) || !existsSync(file))) {
      write(404, "text/plain; charset=utf-8", "no such dashboard asset\n", "no-store");
      return true;
    }
    // The build writes a gzip copy of the script and stylesheet next to them.
    const gzip = asset !== undefined && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? "")) && existsSync(`${file}.gz`);
    const sent = gzip ? `${file}.gz` : file;
    let body = cache.get(sent);
    if (!body) {
      body = readFileSync(sent);
      if (asset) cache.set(sent, body);
    }
    const extra: Record<string, string> = asset ? { vary: "accept-encoding", ...(gzip ? { "content-encoding": "gzip" } : {}) } : {};
    write(200, TYPES[extname(file)] ?? "application/octet-stream", body, asset ? "public, max-age=31536000, immutable" : "no-cache", extra);
    return true;
  };
}
