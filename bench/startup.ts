/**
 * bench:startup: how long `npm start` takes to answer /health on an empty
 * data folder (migrations included), and the idle server's RSS, as the
 * README's quick start runs it; next to a bare connect-node server started
 * the same way (`npm run`, compiled code) in the same run. The median of 5
 * cold starts each, interleaved so that machine noise hits both alike.
 * Goal (issue 12): under 1 s and under 150 MB.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RUNS = Number(process.env.RUNS ?? 5);

/** A port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The node process serving the port: npm starts a shell, which starts node. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1]);
      if (ppid === pid) out.push(Number(entry), ...descendants(Number(entry)));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return kb / 1024;
}

function isNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "node";
  } catch {
    return false;
  }
}

/** One cold start: ms until /health answers 200, and the idle server's RSS 1 s later. */
async function coldStart(script: string): Promise<{ ms: number; rss: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "capstan-bench-startup-"));
  const started = performance.now();
  const child: ChildProcess = spawn("npm", ["run", "--silent", script], {
    env: { ...process.env, PORT: String(port), DATABASE_URL: `file:${join(dir, "data", "capstan.db")}`, LOG_LEVEL: "warn" },
    stdio: "ignore",
    detached: true,
  });
  try {
    let ms = 0;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) {
        ms = performance.now() - started;
        break;
      }
      if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
      if (performance.now() - started > 60_000) throw new Error(`${script} did not answer /health within 60 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const server = descendants(child.pid!).find(isNode);
    if (server === undefined) throw new Error(`no node process under ${script}`);
    return { ms, rss: rssMb(server) };
  } finally {
    process.kill(-child.pid!, "SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const capstan: Array<{ ms: number; rss: number }> = [];
const bare: Array<{ ms: number; rss: number }> = [];
for (let i = 0; i < RUNS; i++) {
  capstan.push(await coldStart("start"));
  bare.push(await coldStart("bench:bare-server"));
}
const row = (name: string, xs: Array<{ ms: number; rss: number }>) =>
  `| ${name} | ${median(xs.map((x) => x.ms)).toFixed(0)} ms | ${median(xs.map((x) => x.rss)).toFixed(0)} MiB | ${xs.map((x) => x.ms.toFixed(0)).join(", ")} |`;
console.log(`bench:startup, median of ${RUNS} cold starts (empty data folder, migrations included)\n`);
console.log("| Server | Until /health | Idle RSS | Each start (ms) |\n|---|---|---|---|");
console.log(row("Capstan (`npm start`)", capstan));
console.log(row("Bare connect-node (`npm run`)", bare));
const ratio = median(capstan.map((x) => x.ms)) / median(bare.map((x) => x.ms));
console.log(`\nCapstan / bare start time: ${ratio.toFixed(2)}×. Goal: under 1,000 ms and under 150 MiB.`);
