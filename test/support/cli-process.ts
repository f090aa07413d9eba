import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../src/cli/bin.mjs", import.meta.url));

/** What one run of the CLI did. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the shipped `capstan` CLI (src/cli/bin.mjs) as a child process with the
 * given environment over a clean one (no CAPSTAN_* from the developer's
 * shell), feeding `input` on stdin. Asynchronous on purpose: a test server
 * running in this process must keep answering while the CLI waits on it.
 */
export function runCli(args: string[], env: Record<string, string>, input = ""): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !k.startsWith("CAPSTAN_"))) as Record<string, string>;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
