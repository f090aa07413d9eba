// npm's `prepare` (run by `npm ci` and `npm install`): compiles src/ and gen/ into
// dist/, bundles the server into dist/server/ and the dashboard into dist/ui/, so that `npm start` and
// `npx capstan-agent` run compiled code, which
// starts in about a third of the time and memory of running TypeScript through
// tsx. Where the sources are not there yet (the image's dependency layer copies
// only package.json and the lock file), there is nothing to build.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync("src/main.ts")) {
  console.log("prepare: no sources here yet; nothing to build");
  process.exit(0);
}
const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// The server's bundle, what `npm start` runs (scripts/bundle.mjs says why).
const bundle = spawnSync(process.execPath, ["scripts/bundle.mjs"], { stdio: "inherit" });
if (bundle.status !== 0) process.exit(bundle.status ?? 1);
// The web dashboard served at /ui (scripts/bundle-ui.mjs says why it is built here).
const ui = spawnSync(process.execPath, ["scripts/bundle-ui.mjs"], { stdio: "inherit" });
process.exit(ui.status ?? 1);
