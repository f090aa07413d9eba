// Bundles the web dashboard (src/ui, React) into dist/ui/ with esbuild: one
// hashed JS file, one hashed CSS file and an index.html naming them, so that the
// server can cache the assets for a year and index.html not at all. Run by
// `npm run build` and by the prepare step `npm ci` runs, never at server start
// (start-up time is measured). The page has no inline script or style: the
// server's Content-Security-Policy allows only its own origin.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { basename, join } from "node:path";

// Another folder may be given, for a test of the build.
const outdir = process.argv[2] ?? "dist/ui";
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  entryPoints: ["src/ui/main.tsx"],
  outdir: join(outdir, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome120", "firefox120", "safari17"],
  jsx: "automatic",
  minify: true,
  sourcemap: "linked",
  metafile: true,
  tsconfig: "src/ui/tsconfig.json",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((p) => p.endsWith(".js"));
const css = outputs.find((p) => p.endsWith(".css"));
if (!js || !css) throw new Error(`bundle-ui: expected one .js and one .css output, got ${outputs.join(", ")}`);
// Compressed once here, not per request: the server sends the .gz to browsers that accept gzip
// (the script is about a third of its size so).
for (const file of [js, css]) {
  const path = join(outdir, "assets", file);
  writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
}
writeFileSync(
  join(outdir, "index.html"),
  `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Capstan</title><link rel="stylesheet" href="/ui/assets/${css}"><script type="module" src="/ui/assets/${js}"></script></head>
<body><div id="root"></div></body></html>
`,
);
