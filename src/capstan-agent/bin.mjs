#!/usr/bin/env node
// Entry of `npx capstan-agent`: the compiled agent when dist/ is current (built
// by `npm ci`, shipped in the image), else its TypeScript sources through tsx.
import { loadEntry } from "../shared/run-entry.mjs";

const { main } = await loadEntry("src/capstan-agent/main.ts");
main().catch((err) => {
  process.stderr.write(`capstan-agent: ${err.message}\n`);
  process.exit(2);
});
