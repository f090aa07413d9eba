// Plain JavaScript: it runs before any TypeScript loader, and scripts/bundle.mjs
// copies it beside the server's bundle (dist/server/), where the image runs it.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

/**
 * Runs the server's bundle (a CommonJS file, scripts/bundle.mjs) with V8's
 * code cache for it, FILE.cache beside it: the functions compiled when the
 * build last ran the bundle, so a start does not parse and compile them again
 * (about a tenth of start-up; what Node 22's module compile cache does, which
 * Node 20 lacks). A cache from another Node version or other V8 flags is
 * rejected by V8 and the code compiled as usual; none is written here, so a
 * read-only install works. With CAPSTAN_WRITE_CODE_CACHE=1 (the build's warm-up
 * run) the cache is written when the process exits.
 * @param {string} file the bundle's path
 * @returns {unknown} the bundle's exports
 */
export function runBundle(file) {
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache (yet): compile as usual.
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData });
  if (process.env.CAPSTAN_WRITE_CODE_CACHE === "1") {
    process.once("exit", () => {
      const tmp = `${cacheFile}.${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch (err) {
        // A full disk costs only the cache: leave no partial file behind, say why, start as usual.
        rmSync(tmp, { force: true });
        process.stderr.write(`load-bundle: no code cache written: ${err instanceof Error ? err.message : err}\n`);
        process.exitCode = 1;
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

// Run as a program (the image's command): the bundle beside this file.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runBundle(join(dirname(fileURLToPath(import.meta.url)), "main.cjs"));
}
