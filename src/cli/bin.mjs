#!/usr/bin/env node
// Entry of `npx capstan`: the compiled CLI when dist/ is current (built by
// `npm ci`, shipped in the image), else its TypeScript sources through tsx.
import { loadEntry } from "../shared/run-entry.mjs";

const { main } = await loadEntry("src/cli/main.ts");
// Exit at once: an idle HTTP/2 session would otherwise keep the process alive.
process.exit(await main(process.argv.slice(2)));
