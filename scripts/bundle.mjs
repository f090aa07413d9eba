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
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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

/**
 * Prisma's generated client loads its query compiler from a module holding the
 * Wasm as a 2 MB base64 string (made for bundlers that cannot ship files). At
 * start-up that string costs about 80 ms: the module is read and decoded as
 * text, compiled, and the string decoded again into bytes. The bundle ships
 * the bytes as a .wasm file beside it instead and the module reads them: the
 * client's decodeBase64AsWasm passes them to Buffer.from, which copies a
 * Buffer as it is (whatever the encoding argument), then compiles them. The
 * bundle's end-to-end test (test/e2e/bundle.e2e.test.ts) runs queries on both
 * providers through it.
 * @param {string} outdir where the bundle is written
 */
const queryCompilerAsFile = (outdir) => ({
  name: "query-compiler-as-file",
  setup(b) {
    const filter = /query_compiler_(\w+)_bg\.(\w+)\.wasm-base64\.mjs$/;
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "capstan-wasm" }));
    b.onLoad({ filter: /.*/, namespace: "capstan-wasm" }, async (args) => {
      const [, size, provider] = filter.exec(args.path);
      const { wasm } = await import(args.path);
      const file = `query_compiler_${size}_bg.${provider}.wasm`;
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, file), Buffer.from(wasm, "base64"));
      return {
        contents: `import { readFileSync } from "node:fs";\nexport const wasm = readFileSync(new URL(${JSON.stringify(`./${file}`)}, import.meta.url));\n`,
        loader: "js",
      };
    });
  },
});

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
  plugins: [rateLimiterMemoryOnly, queryCompilerAsFile(outdir)],
  logLevel: "warning",
});
