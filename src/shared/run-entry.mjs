// Plain JavaScript: this runs before any TypeScript loader is registered.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runBundle } from "./load-bundle.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const UI_SOURCES = join(ROOT, "src", "ui");

/** The newest modification time under dir (sources: .ts, .mjs, .js), in ms. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // The dashboard's sources (src/ui) are bundled on their own (scripts/bundle-ui.mjs): an edit
    // there does not make the server's build stale.
    if (entry.isDirectory()) latest = path === UI_SOURCES ? latest : Math.max(latest, newest(path));
    else if (/\.(ts|mjs|js)$/.test(entry.name)) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

/** Whether a built file exists and is at least as new as every source file. */
function isFresh(built) {
  const sourceDirs = ["src", "gen"].map((d) => join(ROOT, d)).filter((d) => existsSync(d));
  return existsSync(built) && sourceDirs.every((d) => newest(d) <= statSync(built).mtimeMs);
}

/**
 * Loads a program's entry module: its bundle (the server's, see
 * scripts/bundle.mjs) or else its compiled module under dist/, when at least as
 * new as every source file (what `npm ci` builds, and the container image
 * ships), else the TypeScript sources through tsx. Built code starts in a
 * fraction of the time and memory; the check (a stat of each source file, a
 * few milliseconds) keeps an edited checkout from running stale code.
 * @param {string} source the entry's path from the repository root, e.g. "src/main.ts"
 * @param {{ bundle?: string }} [options] the entry's bundle from the repository root, if it has one
 * @returns {Promise<Record<string, unknown>>} the loaded module
 */
export async function loadEntry(source, options = {}) {
  const candidates = [options.bundle, join("dist", source.replace(/\.ts$/, ".js"))].filter(Boolean).map((p) => join(ROOT, p));
  const fresh = candidates.find(isFresh);
  // A CommonJS bundle runs with its code cache (load-bundle.mjs).
  if (fresh?.endsWith(".cjs")) return /** @type {Record<string, unknown>} */ (runBundle(fresh));
  if (fresh) return import(pathToFileURL(fresh).href);
  if (candidates.some((c) => existsSync(c))) {
    process.stderr.write(`${source}: dist/ is older than the sources, running them through tsx (npm run build refreshes dist/)\n`);
  }
  const { register } = await import("tsx/esm/api");
  register();
  return import(pathToFileURL(join(ROOT, source)).href);
}
