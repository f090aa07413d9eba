import { readdir, readFile } from "node:fs/promises";

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux everywhere in practice). */
const TICKS_PER_SECOND = 100;
/** Bytes per page of /proc's resident set size (4 KiB on x86-64 and the usual arm64 kernels). */
const PAGE_BYTES = 4096;

/** What one replica's processes used, for the heartbeat. */
export interface ReplicaUsageSample {
  replicaId: string;
  /** CPU cores used since the previous sample (1.0 = one core busy). */
  cpuCores: number;
  memoryMb: number;
}

/** CPU ticks and resident pages of one process group, summed over its processes. */
interface GroupTotals {
  ticks: number;
  pages: number;
}

/**
 * Per-replica CPU and memory from /proc (Linux): each replica runs in its own
 * process group (run-process.ts starts it detached), so its figures are the
 * sums over the processes of that group: utime + stime + the reaped
 * children's cutime + cstime from /proc/PID/stat, and the resident set size.
 * CPU is a rate between two samples, so a replica's first sample reports
 * memory only after the next one; where /proc is missing nothing is reported
 * (the control plane then uses the node's CPU).
 */
export class ProcessUsageSampler {
  private last = new Map<number, { ticks: number; at: number }>();

  constructor(private readonly procDir = "/proc") {}

  /** Samples the groups (replica id → process group id); a replica without a rate yet is left out. */
  async sample(groups: ReadonlyMap<string, number>, now = Date.now()): Promise<ReplicaUsageSample[]> {
    if (groups.size === 0) {
      this.last.clear();
      return [];
    }
    const totals = await this.readGroups(new Set(groups.values()));
    if (!totals) return [];
    const out: ReplicaUsageSample[] = [];
    const next = new Map<number, { ticks: number; at: number }>();
    for (const [replicaId, pgid] of groups) {
      const t = totals.get(pgid);
      if (!t) continue;
      next.set(pgid, { ticks: t.ticks, at: now });
      const prev = this.last.get(pgid);
      if (!prev || now <= prev.at) continue;
      const cores = Math.max(0, (t.ticks - prev.ticks) / TICKS_PER_SECOND / ((now - prev.at) / 1000));
      out.push({ replicaId, cpuCores: Math.round(cores * 1000) / 1000, memoryMb: Math.round((t.pages * PAGE_BYTES) / 1048576) });
    }
    this.last = next;
    return out;
  }

  /** Totals of the wanted process groups, or undefined where /proc cannot be read. */
  private async readGroups(wanted: ReadonlySet<number>): Promise<Map<number, GroupTotals> | undefined> {
    let entries: string[];
    try {
      entries = await readdir(this.procDir);
    } catch {
      return undefined;
    }
    const totals = new Map<number, GroupTotals>();
    await Promise.all(
      entries
        .filter((e) => /^\d+$/.test(e))
        .map(async (pid) => {
          const stat = await readFile(`${this.procDir}/${pid}/stat`, "utf8").catch(() => "");
          const f = parseStat(stat);
          if (!f || !wanted.has(f.pgrp)) return;
          const t = totals.get(f.pgrp) ?? { ticks: 0, pages: 0 };
          t.ticks += f.ticks;
          t.pages += f.pages;
          totals.set(f.pgrp, t);
        }),
    );
    return totals;
  }
}

/** The fields of a /proc/PID/stat line this needs; the command name (in parentheses) may hold spaces, so fields count from its closing parenthesis. */
export function parseStat(line: string): { pgrp: number; ticks: number; pages: number } | undefined {
  const close = line.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after ") ": state(3) ppid(4) pgrp(5) ... utime(14) stime(15) cutime(16) cstime(17) ... rss(24).
  const f = line.slice(close + 2).split(" ");
  if (f.length < 22) return undefined;
  const n = (field: number) => Number(f[field - 3]);
  return { pgrp: n(5), ticks: n(14) + n(15) + n(16) + n(17), pages: n(24) };
}
