import { execFile } from "node:child_process";
import { statfs } from "node:fs/promises";
import os from "node:os";

/** Static facts about the host, reported in the hello. */
export interface HostFacts {
  hostname: string;
  address: string;
  os: string;
  arch: string;
  cpuCount: number;
  memMb: number;
  diskMb: number;
  dockerAvailable: boolean;
  dockerVersion: string;
  /** What was left out of the facts, and why, for the agent's log. */
  notes: string[];
}

/** The first non-internal IPv4 address, or 127.0.0.1. */
export function primaryAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/**
 * Probes Docker through its CLI: the client version when the CLI exists, and
 * whether a daemon answers. A missing CLI or daemon is a fact, not an error.
 */
export function probeDocker(docker = process.env.CAPSTAN_DOCKER ?? "docker"): Promise<{ available: boolean; version: string }> {
  return new Promise((resolve) => {
    execFile(docker, ["version", "--format", "{{.Client.Version}}|{{.Server.Version}}"], { timeout: 5000 }, (err, stdout) => {
      const [client = "", server = ""] = String(stdout).trim().split("|");
      resolve({ available: !err && server !== "", version: server || client });
    });
  });
}

/** The longest Docker version the contract accepts (capabilities.docker.version). */
export const MAX_DOCKER_VERSION = 64;

/**
 * What of `docker version`'s output the hello may carry: the version the
 * contract accepts, or "" with the reason it was dropped. Some CLIs (wrappers,
 * podman's docker shim, errors printed to stdout) print far more than a
 * version; sent as is, every hello would be InvalidArgument and the agent
 * would retry forever.
 */
export function dockerVersionForHello(raw: string): { version: string; dropped?: string } {
  const version = raw.trim();
  if (version.length <= MAX_DOCKER_VERSION && /^[\x21-\x7e]*$/.test(version)) return { version };
  // A leading version-like token ("27.0.1", "v24.0.7-ce") is still worth sending.
  const token = /^v?\d+(\.\d+)*[\w.+-]*/.exec(version)?.[0] ?? "";
  const kept = token.length <= MAX_DOCKER_VERSION ? token : "";
  return { version: kept, dropped: `docker reported a version the contract does not accept (${version.length} characters; at most ${MAX_DOCKER_VERSION} printable ASCII): sending ${kept ? `"${kept}"` : "none"}` };
}

/** Collects the host facts. */
export async function hostFacts(stateDir: string): Promise<HostFacts> {
  const [disk, docker] = await Promise.all([statfs(stateDir), probeDocker()]);
  const dockerVersion = dockerVersionForHello(docker.version);
  return {
    hostname: os.hostname(),
    address: primaryAddress(),
    os: os.platform(),
    arch: os.arch(),
    cpuCount: os.availableParallelism(),
    memMb: Math.round(os.totalmem() / 1048576),
    diskMb: Math.round((disk.blocks * disk.bsize) / 1048576),
    dockerAvailable: docker.available,
    dockerVersion: dockerVersion.version,
    notes: dockerVersion.dropped ? [dockerVersion.dropped] : [],
  };
}

/** Samples CPU utilisation between calls, from the kernel's per-CPU times. */
export class CpuSampler {
  private last = this.read();

  /** Percent busy since the previous call (0-100). */
  sample(): number {
    const now = this.read();
    const idle = now.idle - this.last.idle;
    const total = now.total - this.last.total;
    this.last = now;
    return total > 0 ? Math.min(100, Math.max(0, (1 - idle / total) * 100)) : 0;
  }

  private read(): { idle: number; total: number } {
    let idle = 0;
    let total = 0;
    for (const cpu of os.cpus()) {
      const t = cpu.times;
      idle += t.idle;
      total += t.user + t.nice + t.sys + t.idle + t.irq;
    }
    return { idle, total };
  }
}

/** Current resource figures for a heartbeat. */
export async function sampleMetrics(stateDir: string, cpu: CpuSampler, running: string[]) {
  const disk = await statfs(stateDir);
  return {
    cpuUsage: round(cpu.sample()),
    memUsage: round((1 - os.freemem() / os.totalmem()) * 100),
    diskFreeMb: Math.round((disk.bavail * disk.bsize) / 1048576),
    runningContainers: running,
    memoryUsedMb: Math.round((os.totalmem() - os.freemem()) / 1048576),
    diskUsedMb: Math.round(((disk.blocks - disk.bfree) * disk.bsize) / 1048576),
    load1: round(os.loadavg()[0]),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
