import { resolve } from "node:path";
import type { Service as ServiceSpec } from "../../../gen/proto/capstan/v1/service_pb.js";
import type { JobReporter } from "./reporter.js";
import { runProcess } from "./run-process.js";

interface Running {
  controller: AbortController;
  done: Promise<void>;
  stopping: boolean;
}

/**
 * Runs service replicas as local processes, for hosts without Docker (seed
 * 003's agents do the same). A replica's launch job stays in progress while
 * the process runs and finishes when it exits, so the job is the replica's life.
 */
export class ProcessDriver {
  private readonly replicas = new Map<string, Running>();

  constructor(
    private readonly workdir: string,
    private readonly stopGraceMs = 10_000,
  ) {}

  /** Ids of the replicas running now. */
  running(): string[] {
    return [...this.replicas.keys()];
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
    const firstPort = service.ports[0]?.targetPort || service.ports[0]?.port;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(firstPort ? { PORT: String(firstPort) } : {}),
      ...service.env,
      CAPSTAN_SERVICE: service.name,
      CAPSTAN_REPLICA_ID: replicaId,
    };
    r.log("agent", `starting ${argv.join(" ")} in ${cwd}`);
    let settle!: () => void;
    const running: Running = { controller, done: new Promise((ok) => (settle = ok)), stopping: false };
    this.replicas.set(replicaId, running);
    try {
      const res = await runProcess({ command: argv[0], args: argv.slice(1), cwd, env, signal: controller.signal, killGraceMs: this.stopGraceMs }, r);
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
