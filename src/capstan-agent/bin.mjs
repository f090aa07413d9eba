#!/usr/bin/env node
// Entry of `npx capstan-agent`: runs the compiled agent when built (the
// container image), else the TypeScript sources through tsx (a clone).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const compiled = fileURLToPath(new URL("../../dist/src/capstan-agent/main.js", import.meta.url));
let entry;
if (existsSync(compiled)) {
  entry = pathToFileURL(compiled).href;
} else {
  const { register } = await import("tsx/esm/api");
  register();
  entry = new URL("./main.ts", import.meta.url).href;
}
const { main } = await import(entry);
main().catch((err) => {
  process.stderr.write(`capstan-agent: ${err.message}\n`);
  process.exit(2);
});
