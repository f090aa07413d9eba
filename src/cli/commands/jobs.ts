import type { Command } from "commander";
import { CommandType, JobSchema, JobStatus, type Job } from "../../../gen/proto/capstan/v1/job_pb.js";
import { DeploymentService, ListJobsResponseSchema } from "../../../gen/proto/capstan/v1/deployment_service_pb.js";
import { OperationFailedError } from "../errors.js";
import { action, positiveInt, type Ctx, type Io } from "../kit.js";
import { age, details, enumName, parseEnum, table, time } from "../output.js";

const TERMINAL = new Set([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT]);

/** Whether a job has ended (no further updates will come). */
export function jobEnded(job: Job): boolean {
  return TERMINAL.has(job.status);
}

/** A job's status in lower case: queued, in_progress, completed... */
export function jobStatus(job: Job): string {
  return enumName(JobStatus, job.status, "JOB_STATUS_");
}

/** What a job does, e.g. deploy_compose, launch_replica. */
export function jobType(job: Job): string {
  return enumName(CommandType, job.type, "COMMAND_TYPE_");
}

/** What to do while following a job. */
export interface FollowOptions {
  /** Called on every state the job reaches (each distinct status once). */
  onStatus?: (job: Job) => void;
  /** Called with each log line as the agent sends it, after the lines stored so far. */
  onLog?: (text: string) => void;
}

/**
 * Follows a job over WatchJob until it ends and returns its final state: the
 * server sends the job as it is, then every change and log line, and ends
 * the stream once the job has ended.
 */
export async function followJob(ctx: Ctx, jobId: string, opts: FollowOptions = {}): Promise<Job> {
  const client = (await ctx.clients()).of(DeploymentService);
  let last: Job | undefined;
  let first = true;
  for await (const ev of client.watchJob({ jobId })) {
    if (!ev.job) continue;
    if (first && opts.onLog && ev.job.logs) opts.onLog(ev.job.logs.endsWith("\n") ? ev.job.logs : `${ev.job.logs}\n`);
    first = false;
    for (const line of ev.lines) opts.onLog?.(line.text.endsWith("\n") ? line.text : `${line.text}\n`);
    if (!last || last.status !== ev.job.status) opts.onStatus?.(ev.job);
    last = ev.job;
  }
  // The stream ends when the job ends; read it once more if the server closed it early.
  const job = last && jobEnded(last) ? last : (await client.getJob({ jobId })).job;
  if (!job) throw new Error(`job ${jobId}: the server returned no job`);
  return job;
}

function showJob(ctx: Ctx, job: Job | undefined): void {
  if (!job) return;
  ctx.show(JobSchema, job, () =>
    details([
      ["id", job.id],
      ["type", jobType(job)],
      ["status", jobStatus(job)],
      ["node", job.nodeId || "-"],
      ["deployment", job.deploymentId || "-"],
      ["service", job.serviceName || "-"],
      ["replica", job.replicaId || "-"],
      ["attempts", String(job.attempts)],
      ["exit code", String(job.exitCode)],
      ["error", job.error || "-"],
      ["created", time(job.createTime)],
      ["started", time(job.startTime)],
      ["finished", time(job.finishTime)],
    ]) + (job.logs ? `\n${job.logs}${job.logs.endsWith("\n") ? "" : "\n"}` : ""),
  );
}

/** jobs, job get|cancel, logs. */
export function registerJobs(program: Command, io: Io): void {
  program
    .command("jobs")
    .description("list jobs, newest first")
    .option("--node <id>", "only jobs of this node")
    .option("--deployment <id>", "only jobs of this deployment")
    .option("--status <status>", "only jobs in this state (queued, in_progress, completed, failed...)")
    .option("--limit <n>", "how many", "50")
    .action(
      action(io, async (ctx, opts: { node?: string; deployment?: string; status?: string; limit: string }) => {
        const status = opts.status ? parseEnum("--status", JobStatus, "JOB_STATUS_", opts.status) : JobStatus.UNSPECIFIED;
        const res = await (await ctx.clients()).of(DeploymentService).listJobs({
          nodeId: opts.node ?? "",
          deploymentId: opts.deployment ?? "",
          status,
          pageSize: positiveInt("--limit", opts.limit),
        });
        ctx.show(ListJobsResponseSchema, res, () =>
          table(res.jobs, [
            { header: "ID", value: (j) => j.id },
            { header: "TYPE", value: jobType },
            { header: "STATUS", value: jobStatus },
            { header: "NODE", value: (j) => j.nodeId || "-" },
            { header: "FOR", value: (j) => j.deploymentId || j.serviceName || "-" },
            { header: "AGE", value: (j) => age(j.createTime) },
            { header: "ERROR", value: (j) => j.error || "" },
          ]),
        );
      }),
    );

  const job = program.command("job").description("show or cancel one job");
  job
    .command("get")
    .description("show a job with its logs")
    .argument("<job>", "job id")
    .action(
      action(io, async (ctx, jobId: string) => {
        showJob(ctx, (await (await ctx.clients()).of(DeploymentService).getJob({ jobId })).job);
      }),
    );
  job
    .command("cancel")
    .description("cancel a job that has not ended")
    .argument("<job>", "job id")
    .option("--reason <text>", "why, kept with the job")
    .action(
      action(io, async (ctx, jobId: string, opts: { reason?: string }) => {
        showJob(ctx, (await (await ctx.clients()).of(DeploymentService).cancelJob({ jobId, reason: opts.reason ?? "" })).job);
      }),
    );

  program
    .command("logs")
    .description("print a job's logs; -f follows them until the job ends")
    .argument("<job>", "job id")
    .option("-f, --follow", "stream new lines until the job ends")
    .action(
      action(io, async (ctx, jobId: string, opts: { follow?: boolean }) => {
        if (!opts.follow) {
          const j = (await (await ctx.clients()).of(DeploymentService).getJob({ jobId })).job;
          if (j?.logs) io.out(j.logs.endsWith("\n") ? j.logs : `${j.logs}\n`);
          return;
        }
        const end = await followJob(ctx, jobId, { onLog: (text) => io.out(text) });
        if (end.status !== JobStatus.COMPLETED) throw new OperationFailedError(`job ${end.id} ${jobStatus(end)}${end.error ? `: ${end.error}` : ""}`);
        io.err(`job ${end.id} ${jobStatus(end)}\n`);
      }),
    );
}
