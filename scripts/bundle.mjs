// Bundles the server (src/main.ts and everything it imports, dependencies
// included) into dist/server/ with esbuild, for `npm start` and the image.
//
// Why: Node resolves, reads and compiles each ES module file on its own; the
// server imports some 600 of them, and that was the largest part of start-up
// (issue 12: under 1 s to /health). One file of our code and the libraries it
// uses, whitespace and syntax minified, starts in about 40% less CPU time.
// What loads lazily stays lazy: dynamic imports become chunks of their own
// (each database provider's client and query compiler, the schema engine).
//
// Left outside: better-sqlite3 (a native addon), the schema engine (it reads its
// .wasm file next to its module) and tsx (only for running sources).
import { build } from "esbuild";
import { rmSync } from "node:fs";

/**
 * rate-limiter-flexible's entry requires every limiter it has (Redis, Mongo,
 * cluster, ...), about 100 KB; Capstan uses the in-memory one. Served from its
 * two files instead; importing anything else from the package fails the build.
 */
const rateLimiterMemoryOnly = {
  name: "rate-limiter-memory-only",
  setup(b) {
    b.onResolve({ filter: /^rate-limiter-flexible$/ }, () => ({ path: "rate-limiter-flexible", namespace: "capstan-shim" }));
    b.onLoad({ filter: /.*/, namespace: "capstan-shim" }, () => ({
      contents:
        'export { default as RateLimiterMemory } from "rate-limiter-flexible/lib/RateLimiterMemory.js";\n' +
        'export { default as RateLimiterRes } from "rate-limiter-flexible/lib/RateLimiterRes.js";\n',
      resolveDir: process.cwd(),
      loader: "js",
    }));
  },
};

// Another folder two levels below the repository (as dist/server is: the server finds
// prisma/ and package.json from there) may be given, for a test of the bundle.
const outdir = process.argv[2] ?? "dist/server";
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: ["src/main.ts"],
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outExtension: { ".js": ".mjs" },
  // Names stay (only whitespace and syntax are minified): logs and stack traces keep them.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  external: ["better-sqlite3", "@prisma/schema-engine-wasm", "tsx"],
  // CommonJS dependencies (pino, ws, pg) call require(); an ES module has none.
  banner: { js: "import { createRequire as __capstanRequire } from 'node:module'; const require = __capstanRequire(import.meta.url);" },
  plugins: [rateLimiterMemoryOnly],
  logLevel: "warning",
});
