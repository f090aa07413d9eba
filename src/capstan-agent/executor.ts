import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { CommandUpdateSchema, type CommandUpdate } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { JobStatus, type Command, type LogLine } from "../../gen/proto/capstan/v1/job_pb.js";
import type { ComposeDriver } from "./drivers/compose-driver.js";
import type { ProcessDriver } from "./drivers/process-driver.js";
import { LAUNCH_PHASE, type JobReporter } from "./drivers/reporter.js";

const REMEMBERED = 1000;
const FLUSH_MS = 100;

/**
 * Runs commands exactly once per job id. Delivery is at least once, and a
 * command comes again when the server heard nothing of it (the report was
 * lost with a stream that broke, e.g. when the replica holding it paused): one
 * whose job is running gets its latest progress report again, one whose job
 * has finished its final report. Silence would leave the job unacknowledged
 * until the server gives it up as failed while its work goes on here.
 */
export class Executor {
  private readonly active = new Map<string, AbortController>();
  /** The latest IN_PROGRESS report of each active job (without its log lines, which were sent once). */
  private readonly progress = new Map<string, CommandUpdate>();
  private readonly finished = new Map<string, CommandUpdate>();

  constructor(
    private readonly compose: ComposeDriver,
    private readonly processes: ProcessDriver,
    private readonly send: (update: CommandUpdate) => void,
    private readonly health: () => Record<string, unknown>,
  ) {}

  /** What runs here now: compose projects and replica ids (reported with heartbeats). */
  running(): string[] {
    return [...this.compose.running(), ...this.processes.running()];
  }

  /** Per-replica CPU and memory of the replicas the process driver runs (reported with heartbeats). */
  replicaUsage(): Promise<Array<{ replicaId: string; cpuCores: number; memoryMb: number }>> {
    return this.processes.usage();
  }

  /** Handles a delivered command. */
  handle(command: Command): void {
    const id = command.jobId;
    if (this.active.has(id)) {
      const latest = this.progress.get(id);
      if (latest) this.send(latest);
      return;
    }
    const final = this.finished.get(id);
    if (final) {
      this.send(final);
      return;
    }
    const controller = new AbortController();
    // A launch with hooks.beforeStart is not running until the hook is done: its first
    // report says so, and the process driver reports the start (the server counts the
    // replica as running only then, e.g. before hooks.afterDeploy).
    const p = command.payload;
    const hooked = p.case === "launchReplica" && (p.value.service?.hooks?.beforeStart.trim() ?? "") !== "";
    const reporter = this.reporter(id, hooked ? { phase: LAUNCH_PHASE.beforeStart } : undefined);
    this.active.set(id, controller);
    void this.run(command.payload, reporter, controller.signal).catch((err: unknown) =>
      reporter.finish({ ok: false, exitCode: 1, error: `agent error: ${(err as Error).message}` }),
    );
  }

  /** Stops a job's work if it is running. */
  cancel(jobId: string): void {
    this.active.get(jobId)?.abort();
  }

  // The agent works on the contract's own types: it shares no code with the server but gen/.
  private run(p: Command["payload"], r: JobReporter, signal: AbortSignal): Promise<void> {
    switch (p.case) {
      case "deployCompose":
        return this.compose.deploy({ projectName: p.value.projectName, composeFile: p.value.composeFile, env: { ...p.value.env } }, r, signal);
      case "stopCompose":
        return this.compose.stop(p.value, r, signal);
      case "status":
        return this.compose.status(p.value, r, signal);
      case "healthCheck":
        r.finish({ ok: true, exitCode: 0, result: this.health() });
        return Promise.resolve();
      case "launchReplica":
        if (!p.value.service) return refuse(r, "launch_replica.service is required");
        return this.processes.launch(p.value.service, p.value.replicaId, r, signal);
      case "stopReplica":
        return this.processes.stop(p.value.replicaId, r);
      case "runTask":
        if (!p.value.service) return refuse(r, "run_task.service is required");
        return this.processes.runTask(p.value.service, p.value.taskId, r, signal);
      case "replicateChunk":
      case "evictChunk":
        return refuse(r, `capstan-agent does not hold chunks; ${p.case === "replicateChunk" ? "replicate_chunk" : "evict_chunk"} is for cache nodes`);
      default:
        return refuse(r, "command.payload is missing");
    }
  }

  /** A reporter that sends IN_PROGRESS at once (with `first` as its result), batches log lines, then the final report. */
  private reporter(jobId: string, first?: Record<string, unknown>): JobReporter {
    let lines: LogLine[] = [];
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const flush = () => {
      timer = undefined;
      if (lines.length === 0) return;
      this.send(create(CommandUpdateSchema, { jobId, status: JobStatus.IN_PROGRESS, lines }));
      lines = [];
    };
    const report = (result: Record<string, unknown> | undefined) => {
      const update = create(CommandUpdateSchema, { jobId, status: JobStatus.IN_PROGRESS, lines, result: result as CommandUpdate["result"] });
      this.progress.set(jobId, create(CommandUpdateSchema, { ...update, lines: [] }));
      this.send(update);
      lines = [];
    };
    report(first);
    return {
      progress: (result) => {
        if (done) return;
        clearTimeout(timer);
        timer = undefined;
        report(result);
      },
      log: (stream, text) => {
        if (done) return;
        lines.push({ $typeName: "capstan.v1.LogLine", time: timestampNow(), stream, text });
        timer ??= setTimeout(flush, FLUSH_MS);
      },
      finish: (o) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const update = create(CommandUpdateSchema, {
          jobId,
          status: o.ok ? JobStatus.COMPLETED : JobStatus.FAILED,
          lines,
          exitCode: o.exitCode,
          error: o.error ?? "",
          result: o.result as CommandUpdate["result"],
        });
        this.active.delete(jobId);
        this.progress.delete(jobId);
        this.remember(jobId, update);
        this.send(update);
      },
    };
  }

  private remember(jobId: string, update: CommandUpdate): void {
    this.finished.set(jobId, create(CommandUpdateSchema, { ...update, lines: [] }));
    if (this.finished.size > REMEMBERED) this.finished.delete(this.finished.keys().next().value as string);
  }
}

/** Finishes a command the agent cannot run, with exit code 2 (a usage error). */
function refuse(r: JobReporter, error: string): Promise<void> {
  r.finish({ ok: false, exitCode: 2, error });
  return Promise.resolve();
}
