// `npm start`: the bundled server when dist/ is current (`npm ci` builds it),
// else src/main.ts through tsx. main.ts starts the server when loaded.
import { loadEntry } from "./shared/run-entry.mjs";

await loadEntry("src/main.ts", { bundle: "dist/server/main.cjs" });
