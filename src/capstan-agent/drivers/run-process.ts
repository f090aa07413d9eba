import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { JobReporter } from "./reporter.js";

/** How to run one program. */
export interface RunSpec {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** After SIGTERM on abort, SIGKILL follows this much later. */
  killGraceMs?: number;
  /** Told the child's pid once it started (it is also its process group id). */
  onSpawn?: (pid: number) => void;
}

/** What a finished program left behind. */
export interface RunResult {
  exitCode: number;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  /** Everything it printed on stdout, for callers that parse it (bounded to 1 MiB). */
  stdout: string;
}

/**
 * Runs a program without a shell (arguments are never re-parsed), streaming
 * each output line to the reporter. An abort sends SIGTERM, then SIGKILL after
 * the grace period. A program that cannot start resolves with exit code 127.
 */
export function runProcess(spec: RunSpec, reporter: JobReporter): Promise<RunResult> {
  return new Promise((resolve) => {
    // Its own process group, so a stop reaches what a shell command started too.
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    if (child.pid !== undefined) spec.onSpawn?.(child.pid);
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    let stdout = "";
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      signalGroup("SIGTERM");
      killTimer = setTimeout(() => signalGroup("SIGKILL"), spec.killGraceMs ?? 10_000);
      killTimer.unref();
    };
    if (spec.signal?.aborted) onAbort();
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (stdout.length < 1 << 20) stdout += `${line}\n`;
      reporter.log("stdout", line);
    });
    createInterface({ input: child.stderr }).on("line", (line) => reporter.log("stderr", line));
    let settled = false;
    const settle = (result: RunResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      spec.signal?.removeEventListener("abort", onAbort);
      resolve(result);
    };
    child.on("error", (err) => {
      reporter.log("agent", `cannot start ${spec.command}: ${err.message}`);
      settle({ exitCode: 127, signal: null, stdout });
    });
    child.on("close", (code, signal) => settle({ exitCode: code ?? 128, signal, stdout }));
  });
}
