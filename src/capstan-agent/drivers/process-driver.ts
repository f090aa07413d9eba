import { resolve } from "node:path";
import type { Service as ServiceSpec } from "../../../gen/proto/capstan/v1/service_pb.js";
import { LAUNCH_PHASE, type JobReporter } from "./reporter.js";
import { ProcessUsageSampler, type ReplicaUsageSample } from "./process-usage.js";
import { runProcess } from "./run-process.js";

interface Running {
  controller: AbortController;
  done: Promise<void>;
  stopping: boolean;
  /** The replica's process group (its first process's pid), once started. */
  pgid?: number;
}

/**
 * Runs service replicas as local processes, for hosts without Docker (seed
 * 003's agents do the same). A replica's launch job stays in progress while
 * the process runs and finishes when it exits, so the job is the replica's life.
 */
export class ProcessDriver {
  private readonly replicas = new Map<string, Running>();
  private readonly sampler = new ProcessUsageSampler();

  constructor(
    private readonly workdir: string,
    private readonly stopGraceMs = 10_000,
  ) {}

  /** Ids of the replicas running now. */
  running(): string[] {
    return [...this.replicas.keys()];
  }

  /** Each running replica's CPU (since the previous call) and memory, for the heartbeat; empty where /proc is missing. */
  usage(): Promise<ReplicaUsageSample[]> {
    const groups = new Map<string, number>();
    for (const [id, r] of this.replicas) if (r.pgid !== undefined) groups.set(id, r.pgid);
    return this.sampler.sample(groups);
  }

  /** Starts a replica and reports until it exits. */
  async launch(service: ServiceSpec, replicaId: string, r: JobReporter, signal: AbortSignal): Promise<void> {
    if (this.replicas.has(replicaId)) {
      r.finish({ ok: false, exitCode: 1, error: `replica ${replicaId} is already running` });
      return;
    }
    const argv = commandLine(service);
    if (!argv) {
      r.finish({ ok: false, exitCode: 2, error: "the service has neither a command nor a runtime and entry" });
      return;
    }
    const controller = new AbortController();
    signal.addEventListener("abort", () => controller.abort(), { once: true });
    const cwd = resolve(this.workdir, service.path || ".");
    const env = replicaEnv(service, { CAPSTAN_REPLICA_ID: replicaId });
    let settle!: () => void;
    const running: Running = { controller, done: new Promise((ok) => (settle = ok)), stopping: false };
    this.replicas.set(replicaId, running);
    try {
      if (!(await this.beforeStart(service, cwd, env, r, controller.signal))) return;
      if ((service.hooks?.beforeStart.trim() ?? "") !== "") r.progress({ phase: LAUNCH_PHASE.started });
      r.log("agent", `starting ${argv.join(" ")} in ${cwd}`);
      const onSpawn = (pid: number) => void (running.pgid = pid);
      const res = await runProcess({ command: argv[0], args: argv.slice(1), cwd, env, signal: controller.signal, killGraceMs: this.stopGraceMs, onSpawn }, r);
      const stopped = running.stopping;
      r.finish({
        ok: stopped || res.exitCode === 0,
        exitCode: res.exitCode,
        error: stopped || res.exitCode === 0 ? undefined : `exited with ${res.signal ?? res.exitCode}`,
        result: { replicaId, stopped, signal: res.signal ?? "" },
      });
    } finally {
      this.replicas.delete(replicaId);
      settle();
    }
  }

  /**
   * Runs a service spec once, to completion (a one-off task): hooks.beforeStart
   * first, then the command; the job succeeds on exit code 0. A cancel stops
   * it (SIGTERM, then SIGKILL after the grace period).
   */
  async runTask(service: ServiceSpec, taskId: string, r: JobReporter, signal: AbortSignal): Promise<void> {
    const argv = commandLine(service);
    if (!argv) {
      r.finish({ ok: false, exitCode: 2, error: "the service has neither a command nor a runtime and entry" });
      return;
    }
    const cwd = resolve(this.workdir, service.path || ".");
    const env = replicaEnv(service, { CAPSTAN_TASK_ID: taskId });
    if (!(await this.beforeStart(service, cwd, env, r, signal))) return;
    r.log("agent", `running ${argv.join(" ")} in ${cwd}`);
    const res = await runProcess({ command: argv[0], args: argv.slice(1), cwd, env, signal, killGraceMs: this.stopGraceMs }, r);
    const cancelled = signal.aborted;
    const ok = !cancelled && res.exitCode === 0;
    r.finish({
      ok,
      exitCode: res.exitCode,
      error: ok ? undefined : cancelled ? "cancelled" : `exited with ${res.signal ?? res.exitCode}`,
      result: { taskId, signal: res.signal ?? "" },
    });
  }

  /**
   * Runs hooks.beforeStart, if any, through /bin/sh in the replica's directory
   * with its env; its output goes to the job's log. On failure the job
   * finishes failed (the launch fails) and false is returned.
   */
  private async beforeStart(service: ServiceSpec, cwd: string, env: NodeJS.ProcessEnv, r: JobReporter, signal: AbortSignal): Promise<boolean> {
    const hook = service.hooks?.beforeStart.trim() ?? "";
    if (hook === "") return true;
    r.log("agent", `running hooks.beforeStart in ${cwd}: ${hook}`);
    const res = await runProcess({ command: "/bin/sh", args: ["-c", hook], cwd, env, signal, killGraceMs: this.stopGraceMs }, r);
    if (res.exitCode === 0 && !signal.aborted) return true;
    const why = signal.aborted ? "was stopped" : `exited with ${res.signal ?? res.exitCode}`;
    r.finish({ ok: false, exitCode: res.exitCode, error: `hooks.beforeStart ${why}; the replica was not started`, result: { hook: "beforeStart" } });
    return false;
  }

  /** Stops a replica (SIGTERM, then SIGKILL after the grace period). */
  async stop(replicaId: string, r: JobReporter): Promise<void> {
    const running = this.replicas.get(replicaId);
    if (!running) {
      r.finish({ ok: true, exitCode: 0, result: { replicaId, wasRunning: false } });
      return;
    }
    running.stopping = true;
    running.controller.abort();
    await running.done;
    r.finish({ ok: true, exitCode: 0, result: { replicaId, wasRunning: true } });
  }

  /** Stops every replica, e.g. when the agent exits. */
  async stopAll(): Promise<void> {
    for (const running of this.replicas.values()) {
      running.stopping = true;
      running.controller.abort();
    }
    await Promise.all([...this.replicas.values()].map((r) => r.done));
  }
}

/** The environment a replica or task runs with: PATH, HOME, PORT (first port), the spec's env, and Capstan's ids. */
function replicaEnv(service: ServiceSpec, ids: Record<string, string>): NodeJS.ProcessEnv {
  const firstPort = service.ports[0]?.targetPort || service.ports[0]?.port;
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(firstPort ? { PORT: String(firstPort) } : {}),
    ...service.env,
    CAPSTAN_SERVICE: service.name,
    ...ids,
  };
}

/**
 * The argv for a service: its command through /bin/sh (seed 003 specs give a
 * command line, e.g. "npm start"), or its runtime and entry.
 */
export function commandLine(s: Pick<ServiceSpec, "command" | "runtime" | "entry">): string[] | undefined {
  if (s.command.trim() !== "") return ["/bin/sh", "-c", s.command];
  const entry = s.entry || "index.ts";
  switch (s.runtime || "node") {
    case "node":
      return [process.execPath, entry];
    case "bun":
      return ["bun", "run", entry];
    case "deno":
      return ["deno", "run", "--allow-all", entry];
    default:
      return undefined;
  }
}
