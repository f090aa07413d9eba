import type { Command } from "commander";
import { TaskSchema, type Task } from "../../../gen/proto/capstan/v1/task_pb.js";
import { ListTasksResponseSchema, TaskService } from "../../../gen/proto/capstan/v1/task_service_pb.js";
import { OperationFailedError, UsageError } from "../errors.js";
import { action, positiveInt, type Ctx, type Io } from "../kit.js";
import { age, details, table, time } from "../output.js";
import { followJob } from "./jobs.js";

function showTask(ctx: Ctx, task: Task | undefined): void {
  if (!task) return;
  ctx.show(TaskSchema, task, () =>
    details([
      ["id", task.id],
      ["service", task.serviceName],
      ["kind", task.kind],
      ["status", task.status],
      ["node", task.nodeId || "-"],
      ["job", task.jobId || "-"],
      ["exit code", String(task.exitCode)],
      ["error", task.error || "-"],
      ["scheduled for", time(task.scheduledTime)],
      ["created", time(task.createTime)],
      ["finished", time(task.finishTime)],
    ]) + (task.logs ? `\n${task.logs}${task.logs.endsWith("\n") ? "" : "\n"}` : ""),
  );
}

/** KEY=VALUE options to a map. */
function envMap(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i <= 0) throw new UsageError(`--env ${p}: expected KEY=VALUE`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** run, tasks, task get|cancel. */
export function registerTasks(program: Command, io: Io): void {
  program
    .command("run")
    .description("run a service once, to completion, on a node the scheduler picks: an applied service by name, or --command; follows its logs and exits with its outcome")
    .argument("[service]", "an applied service to run once")
    .option("--command <line>", "run this command line (through /bin/sh) instead of an applied service")
    .option("--name <name>", "the task's service name with --command", "task")
    .option("--path <dir>", "directory on the node, relative to the agent's workdir, with --command")
    .option("--env <KEY=VALUE...>", "environment with --command (repeatable)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--timeout <seconds>", "run time limit (default: the server's TASK_TIMEOUT)")
    .option("-d, --detach", "print the task and return without following it")
    .action(
      action(io, async (ctx, name: string | undefined, opts: { command?: string; name: string; path?: string; env: string[]; timeout?: string; detach?: boolean }) => {
        if (!name === !opts.command) throw new UsageError("give a service name or --command (one of them)");
        const client = (await ctx.clients()).of(TaskService);
        const res = await client.runTask({
          serviceName: name ?? "",
          service: opts.command ? { name: opts.name, command: opts.command, path: opts.path ?? "", env: envMap(opts.env) } : undefined,
          timeoutSeconds: opts.timeout ? positiveInt("--timeout", opts.timeout) : 0,
        });
        const task = res.task;
        if (!task) throw new Error("the server returned no task");
        if (opts.detach) return showTask(ctx, task);
        io.err(`task ${task.id} on node ${task.nodeId}\n`);
        await followJob(ctx, task.jobId, { onLog: (text) => io.out(text) });
        const end = (await client.getTask({ taskId: task.id })).task;
        if (end?.status !== "succeeded") throw new OperationFailedError(`task ${task.id} ${end?.status ?? "lost"}${end?.error ? `: ${end.error}` : ""}`);
        io.err(`task ${task.id} succeeded\n`);
      }),
    );

  program
    .command("tasks")
    .description("list one-off tasks and scheduled runs, newest first")
    .option("--service <name>", "only this service's tasks")
    .option("--limit <n>", "how many", "50")
    .action(
      action(io, async (ctx, opts: { service?: string; limit: string }) => {
        const res = await (await ctx.clients()).of(TaskService).listTasks({ serviceName: opts.service ?? "", pageSize: positiveInt("--limit", opts.limit) });
        ctx.show(ListTasksResponseSchema, res, () =>
          table(res.tasks, [
            { header: "ID", value: (t) => t.id },
            { header: "SERVICE", value: (t) => t.serviceName },
            { header: "KIND", value: (t) => t.kind },
            { header: "STATUS", value: (t) => t.status },
            { header: "EXIT", value: (t) => String(t.exitCode) },
            { header: "NODE", value: (t) => t.nodeId || "-" },
            { header: "AGE", value: (t) => age(t.createTime) },
            { header: "ERROR", value: (t) => t.error || "" },
          ]),
        );
      }),
    );

  const task = program.command("task").description("show or cancel one task");
  task
    .command("get")
    .description("show a task with its logs")
    .argument("<task>", "task id")
    .action(
      action(io, async (ctx, taskId: string) => {
        showTask(ctx, (await (await ctx.clients()).of(TaskService).getTask({ taskId })).task);
      }),
    );
  task
    .command("cancel")
    .description("cancel a pending or running task (its process is stopped)")
    .argument("<task>", "task id")
    .option("--reason <text>", "why, kept with the task's job")
    .action(
      action(io, async (ctx, taskId: string, opts: { reason?: string }) => {
        showTask(ctx, (await (await ctx.clients()).of(TaskService).cancelTask({ taskId, reason: opts.reason ?? "" })).task);
      }),
    );
}
