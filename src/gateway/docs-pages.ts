import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

const require = createRequire(import.meta.url);
const swaggerDir = dirname(require.resolve("swagger-ui-dist/package.json"));
const redocBundle = join(dirname(require.resolve("redoc/package.json")), "bundles", "redoc.standalone.js");

// Served from node_modules, so the docs work with no network (no CDN).
const ASSETS: Record<string, [string, string]> = {
  "/docs/swagger-ui.css": [join(swaggerDir, "swagger-ui.css"), "text/css"],
  "/docs/swagger-ui-bundle.js": [join(swaggerDir, "swagger-ui-bundle.js"), "application/javascript"],
  "/docs/swagger-ui-standalone-preset.js": [join(swaggerDir, "swagger-ui-standalone-preset.js"), "application/javascript"],
  "/docs/favicon-32x32.png": [join(swaggerDir, "favicon-32x32.png"), "image/png"],
  "/redoc/redoc.standalone.js": [redocBundle, "application/javascript"],
};

const SWAGGER_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Capstan API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script></body></html>`;

const SWAGGER_INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout" });`;

const REDOC_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Capstan API</title></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/redoc/redoc.standalone.js"></script></body></html>`;

const cache = new Map<string, Buffer>();

/** Serves /openapi.json, /docs (Swagger UI) and /redoc (ReDoc) with their assets; false for other paths. */
export function serveDocs(path: string, res: ServerResponse | Http2ServerResponse, openApi: () => unknown): boolean {
  const write = (type: string, body: string | Buffer, cacheable = false) => {
    (res as ServerResponse).writeHead(200, { "content-type": type, "content-length": Buffer.byteLength(body), ...(cacheable ? { "cache-control": "public, max-age=3600" } : {}) });
    res.end(body);
  };
  if (path === "/openapi.json") write("application/json; charset=utf-8", JSON.stringify(openApi()));
  else if (path === "/docs" || path === "/docs/") write("text/html; charset=utf-8", SWAGGER_HTML);
  else if (path === "/docs/init.js") write("application/javascript", SWAGGER_INIT);
  else if (path === "/redoc" || path === "/redoc/") write("text/html; charset=utf-8", REDOC_HTML);
  else if (ASSETS[path]) {
    const [file, type] = ASSETS[path];
    let body = cache.get(file);
    if (!body) cache.set(file, (body = readFileSync(file)));
    write(type, body, true);
  } else return false;
  return true;
}
