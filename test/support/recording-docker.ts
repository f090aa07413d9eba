import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A `docker` executable that records every invocation (argv, one JSON line
 * each) and answers like a Docker CLI with a running daemon: the compose
 * driver is tested by the exact commands it issues (no Docker engine runs
 * on these machines).
 */
export function recordingDocker(opts: { versionOutput?: string } = {}): { bin: string; dir: string; calls: () => string[][] } {
  const dir = mkdtempSync(join(tmpdir(), "capstan-docker-"));
  const log = join(dir, "calls.jsonl");
  const bin = join(dir, "docker");
  writeFileSync(
    bin,
    `#!/usr/bin/env node
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + "\\n");
if (args[0] === "version") { console.log(${JSON.stringify(opts.versionOutput ?? "27.1.0|27.1.0")}); process.exit(0); }
if (args.includes("ps")) { console.log(JSON.stringify({ Name: "web-1", Service: "web", State: "running" })); process.exit(0); }
if (args.includes("up")) { console.log("Container web-1  Started"); process.exit(0); }
if (args.includes("down")) { console.log("Container web-1  Removed"); process.exit(0); }
process.exit(0);
`,
  );
  chmodSync(bin, 0o755);
  return {
    bin,
    dir,
    calls: () => {
      try {
        return readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]);
      } catch {
        return [];
      }
    },
  };
}
