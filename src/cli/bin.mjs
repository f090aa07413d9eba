#!/usr/bin/env node
// Entry of `npx capstan`: runs the compiled CLI when built (the container
// image), else the TypeScript sources through tsx (a clone).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const compiled = fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url));
let entry;
if (existsSync(compiled)) {
  entry = pathToFileURL(compiled).href;
} else {
  const { register } = await import("tsx/esm/api");
  register();
  entry = new URL("./main.ts", import.meta.url).href;
}
const { main } = await import(entry);
// Exit at once: an idle HTTP/2 session would otherwise keep the process alive.
process.exit(await main(process.argv.slice(2)));
