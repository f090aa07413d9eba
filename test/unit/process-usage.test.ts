import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseStat, ProcessUsageSampler } from "../../src/capstan-agent/drivers/process-usage.js";

/** A /proc/PID/stat line: pid (comm) state ppid pgrp ... with utime, stime, cutime, cstime and rss where the kernel puts them. */
const statLine = (pid: number, comm: string, pgrp: number, utime: number, stime: number, cutime: number, rss: number) =>
  `${pid} (${comm}) S 1 ${pgrp} ${pgrp} 0 -1 4194560 100 0 0 0 ${utime} ${stime} ${cutime} 0 20 0 1 0 100 1000000 ${rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0`;

describe("parseStat", () => {
  it.each([
    { name: "a plain command", line: statLine(42, "node", 40, 150, 50, 10, 2560), want: { pgrp: 40, ticks: 210, pages: 2560 } },
    { name: "a command name with spaces and parentheses", line: statLine(42, "my (odd) cmd", 7, 1, 2, 3, 4), want: { pgrp: 7, ticks: 6, pages: 4 } },
    { name: "garbage", line: "not a stat line", want: undefined },
  ])("$name", ({ line, want }) => expect(parseStat(line)).toEqual(want));
});

describe("ProcessUsageSampler", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function fakeProc(procs: Array<[pid: number, pgrp: number, utime: number, rss: number]>): Promise<string> {
    const dir = dirs[0] ?? (await mkdtemp(join(tmpdir(), "capstan-proc-")));
    if (!dirs.includes(dir)) dirs.push(dir);
    for (const [pid, pgrp, utime, rss] of procs) {
      await mkdir(join(dir, String(pid)), { recursive: true });
      await writeFile(join(dir, String(pid), "stat"), statLine(pid, "sh", pgrp, utime, 0, 0, rss));
    }
    return dir;
  }

  it("sums a replica's process group and reports cores between two samples, memory in MiB", async () => {
    const dir = await fakeProc([[100, 100, 0, 256], [101, 100, 0, 256], [200, 200, 0, 512]]);
    const sampler = new ProcessUsageSampler(dir);
    const groups = new Map([["web-1", 100], ["web-2", 200]]);
    expect(await sampler.sample(groups, 1_000)).toEqual([]);
    // Two seconds later: group 100 used 300 ticks (1.5 cores), group 200 used 50 (0.25 cores).
    await fakeProc([[100, 100, 200, 256], [101, 100, 100, 256], [200, 200, 50, 512]]);
    expect(await sampler.sample(groups, 3_000)).toEqual([
      { replicaId: "web-1", cpuCores: 1.5, memoryMb: 2 },
      { replicaId: "web-2", cpuCores: 0.25, memoryMb: 2 },
    ]);
  });

  it("reports nothing where /proc is missing", async () => {
    const sampler = new ProcessUsageSampler("/nonexistent-proc");
    expect(await sampler.sample(new Map([["web-1", 1]]), 1_000)).toEqual([]);
  });

  it.runIf(process.platform === "linux")("measures a real process group that burns CPU", async () => {
    const child = spawn(process.execPath, ["-e", "for (;;) {}"], { detached: true, stdio: "ignore" });
    try {
      const sampler = new ProcessUsageSampler();
      const groups = new Map([["burn", child.pid!]]);
      await sampler.sample(groups);
      let usage: Awaited<ReturnType<ProcessUsageSampler["sample"]>> = [];
      // Until the kernel has charged it a tick (at once on an idle machine; later on a busy one).
      while (!(usage[0]?.cpuCores > 0)) {
        await new Promise((r) => setTimeout(r, 200));
        usage = await sampler.sample(groups);
      }
      expect(usage[0].replicaId).toBe("burn");
      expect(usage[0].memoryMb).toBeGreaterThan(0);
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
  });
});
