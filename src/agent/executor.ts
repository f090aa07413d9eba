import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { CommandUpdateSchema, type CommandUpdate } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { JobStatus, type Command, type LogLine } from "../../gen/proto/capstan/v1/job_pb.js";
import type { CommandPayload } from "../domain/job.js";
import { payloadFromProto } from "../rpc/job-convert.js";
import type { ComposeDriver } from "./drivers/compose-driver.js";
import type { ProcessDriver } from "./drivers/process-driver.js";
import type { JobReporter } from "./drivers/reporter.js";

const REMEMBERED = 1000;
const FLUSH_MS = 100;

/**
 * Runs commands exactly once per job id. Delivery is at least once, so a
 * command whose job is running is ignored, and one whose job has finished gets
 * its final report again (the first one may have been lost with the stream).
 */
export class Executor {
  private readonly active = new Map<string, AbortController>();
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

  /** Handles a delivered command. */
  handle(command: Command): void {
    const id = command.jobId;
    if (this.active.has(id)) return;
    const final = this.finished.get(id);
    if (final) {
      this.send(final);
      return;
    }
    let payload: CommandPayload;
    const controller = new AbortController();
    const reporter = this.reporter(id);
    try {
      payload = payloadFromProto(command);
    } catch (err) {
      reporter.finish({ ok: false, exitCode: 2, error: (err as Error).message });
      return;
    }
    this.active.set(id, controller);
    void this.run(payload, reporter, controller.signal).catch((err: unknown) =>
      reporter.finish({ ok: false, exitCode: 1, error: `agent error: ${(err as Error).message}` }),
    );
  }

  /** Stops a job's work if it is running. */
  cancel(jobId: string): void {
    this.active.get(jobId)?.abort();
  }

  private run(p: CommandPayload, r: JobReporter, signal: AbortSignal): Promise<void> {
    switch (p.type) {
      case "deploy_compose":
        return this.compose.deploy(p, r, signal);
      case "stop_compose":
        return this.compose.stop(p, r, signal);
      case "status":
        return this.compose.status(p, r, signal);
      case "health_check":
        r.finish({ ok: true, exitCode: 0, result: this.health() });
        return Promise.resolve();
      case "launch_replica":
        return this.processes.launch(p.service, p.replicaId, r, signal);
      case "stop_replica":
        return this.processes.stop(p.replicaId, r);
      case "replicate_chunk":
      case "evict_chunk":
        r.finish({ ok: false, exitCode: 2, error: `capstan-agent does not hold chunks; ${p.type} is for cache nodes` });
        return Promise.resolve();
    }
  }

  /** A reporter that sends IN_PROGRESS at once, batches log lines, then the final report. */
  private reporter(jobId: string): JobReporter {
    let lines: LogLine[] = [];
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const flush = () => {
      timer = undefined;
      if (lines.length === 0) return;
      this.send(create(CommandUpdateSchema, { jobId, status: JobStatus.IN_PROGRESS, lines }));
      lines = [];
    };
    this.send(create(CommandUpdateSchema, { jobId, status: JobStatus.IN_PROGRESS }));
    return {
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
