// Bundles the server (src/main.ts and everything it imports, dependencies
// included) into dist/server/main.cjs with esbuild, for `npm start` and the
// image, then runs it once to write V8's code cache beside it.
//
// Why: Node resolves, reads and compiles each ES module file on its own; the
// server imports some 600 of them, and that was the largest part of start-up
// (issue 12: under 1 s to /health). One file of our code and the libraries it
// uses, whitespace and syntax minified, starts in about 40% less CPU time.
// CommonJS, not an ES module: Node 20 can give a script V8's code cache
// (vm.Script's cachedData) but not a module, and the cache saves parsing and
// compiling again what every start compiles (src/shared/load-bundle.mjs runs
// the bundle with it). What loads lazily stays lazy: a dynamic import becomes a
// require() when first called (each database provider's client, the schema
// engine), and a bundled module runs only when first required.
//
// Left outside: better-sqlite3 (a native addon), the schema engine (it reads its
// .wasm file next to its module) and tsx (only for running sources).
import { spawn } from "node:child_process";
import { build } from "esbuild";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
  outfile: join(outdir, "main.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // Names stay (only whitespace and syntax are minified): logs and stack traces keep them.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  external: ["better-sqlite3", "@prisma/schema-engine-wasm", "tsx"],
  // import() becomes require(), which V8's code cache does not break (a cached script loses its
  // dynamic import callback in Node 20); Node 20.19+ requires the schema engine's ES module.
  supported: { "dynamic-import": false },
  // The sources and Prisma's client find files from import.meta.url: the bundle's own URL.
  define: { "import.meta.url": "__capstanBundleUrl" },
  banner: { js: 'var __capstanBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [rateLimiterMemoryOnly, queryCompilerAsFile(outdir)],
  logLevel: "warning",
});
copyFileSync("src/shared/load-bundle.mjs", join(outdir, "load-bundle.mjs"));
await writeCodeCache(join(outdir, "load-bundle.mjs"));

/**
 * Starts the bundle once on an empty SQLite file, answers one /health, and
 * stops it: load-bundle.mjs writes V8's code cache at exit (every function
 * compiled by then). A failure costs only the cache, so it is reported, not fatal.
 * @param {string} loader the copied load-bundle.mjs
 */
async function writeCodeCache(loader) {
  const dir = mkdtempSync(join(tmpdir(), "capstan-code-cache-"));
  const child = spawn(process.execPath, [loader], {
    env: { ...process.env, CAPSTAN_WRITE_CODE_CACHE: "1", PORT: "0", HOST: "127.0.0.1", DATABASE_URL: `file:${join(dir, "c.db")}`, LOG_LEVEL: "info", LOG_FORMAT: "json", METRICS: "on" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((r) => child.once("exit", (code) => r(code)));
  try {
    const port = await new Promise((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        const m = /"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`the bundle exited with ${code} before listening`)));
      setTimeout(() => reject(new Error("the bundle did not listen within 30 s")), 30_000).unref();
    });
    await fetch(`http://127.0.0.1:${port}/health`);
    child.kill("SIGTERM");
    const code = await exited;
    if (code !== 0) throw new Error(`the bundle exited with ${code}`);
  } catch (err) {
    child.kill("SIGKILL");
    console.warn(`bundle: no code cache written (${err instanceof Error ? err.message : err}); the server starts without it`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
