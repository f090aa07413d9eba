import type { Command } from "commander";
import { DeploymentSchema, DeploymentStatus, type Deployment } from "../../../gen/proto/capstan/v1/deployment_pb.js";
import { CreateDeploymentResponseSchema, DeleteDeploymentResponseSchema, DeploymentService, ListDeploymentsResponseSchema } from "../../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../../gen/proto/capstan/v1/job_pb.js";
import { OperationFailedError } from "../errors.js";
import { readInput } from "../input.js";
import { action, allPages, collect, keyValues, positiveInt, type Ctx, type Io } from "../kit.js";
import { age, details, enumName, list, table, time } from "../output.js";
import { followJob, jobStatus, jobType } from "./jobs.js";
import { resolveNodeId } from "./nodes.js";

const SETTLED = new Set([DeploymentStatus.RUNNING, DeploymentStatus.FAILED, DeploymentStatus.STOPPED]);

/** A deployment's status in lower case. */
export function deploymentStatus(d: Deployment): string {
  return enumName(DeploymentStatus, d.status, "DEPLOYMENT_STATUS_");
}

/**
 * Waits for a deployment's job and then for the deployment to settle,
 * printing each state on stderr (stdout stays for the result). A deployment
 * still waiting for a node has no job yet: it is polled until one is sent.
 */
async function waitForDeployment(ctx: Ctx, deploymentId: string, jobId: string): Promise<Deployment> {
  const client = (await ctx.clients()).of(DeploymentService);
  const read = async () => {
    const d = (await client.getDeployment({ deploymentId })).deployment;
    if (!d) throw new Error(`deployment ${deploymentId}: the server returned no deployment`);
    return d;
  };
  let said = "";
  const say = (line: string) => {
    if (line !== said) ctx.io.err(`${line}\n`);
    said = line;
  };
  while (!jobId) {
    const d = await read();
    if (d.lastJobId) jobId = d.lastJobId;
    else if (d.status === DeploymentStatus.FAILED) throw new OperationFailedError(`deployment ${deploymentId} failed: ${d.lastError}`);
    else {
      say(`deployment ${deploymentId} ${deploymentStatus(d)}${d.lastError ? `: ${d.lastError}` : ""}`);
      await sleep(1000);
    }
  }
  const job = await followJob(ctx, jobId, { onStatus: (j) => say(`job ${j.id} (${jobType(j)}) ${jobStatus(j)}${j.nodeId ? ` on ${j.nodeId}` : ""}`) });
  if (job.status !== JobStatus.COMPLETED) throw new OperationFailedError(`deployment ${deploymentId}: job ${job.id} ${jobStatus(job)}${job.error ? `: ${job.error}` : ""}`);
  // The job's end and the deployment's new status are written one after the other.
  for (;;) {
    const d = await read();
    if (d.lastJobId !== jobId || SETTLED.has(d.status)) {
      say(`deployment ${deploymentId} ${deploymentStatus(d)}`);
      if (d.status === DeploymentStatus.FAILED) throw new OperationFailedError(`deployment ${deploymentId} failed: ${d.lastError}`);
      return d;
    }
    await sleep(200);
  }
}

function showDeployment(ctx: Ctx, d: Deployment | undefined, extra = ""): void {
  if (!d) return;
  ctx.show(DeploymentSchema, d, () =>
    details([
      ["id", d.id],
      ["project", d.projectName],
      ["status", deploymentStatus(d)],
      ["revision", String(d.revision)],
      ["node", d.nodeId || "-"],
      ["env", list(d.envKeys)],
      ["compose hash", d.composeHash],
      ["last job", d.lastJobId || "-"],
      ["last error", d.lastError || "-"],
      ["created", time(d.createTime)],
      ["updated", time(d.updateTime)],
    ]) + extra,
  );
}

/** deploy, deployments, deployment get|rm, rollback. */
export function registerDeployments(program: Command, io: Io): void {
  program
    .command("deploy")
    .description("deploy a compose file as a named deployment (a new revision when it exists)")
    .requiredOption("-f, --file <compose.yaml>", "the compose file ('-' reads stdin)")
    .requiredOption("--name <name>", "the deployment's name (its id and compose project)")
    .option("--node <node>", "run on this node (id or name); else the scheduler places it")
    .option("--env <KEY=VALUE>", "an environment variable for the compose file; repeatable", collect)
    .option("--wait", "show progress until the deployment runs or fails")
    .action(
      action(io, async (ctx, opts: { file: string; name: string; node?: string; env?: string[]; wait?: boolean }) => {
        const renderedCompose = await readInput("--file", opts.file);
        const env = keyValues("--env", opts.env);
        const nodeId = opts.node ? await resolveNodeId(ctx, opts.node) : "";
        const client = (await ctx.clients()).of(DeploymentService);
        const res = await client.createDeployment({ deploymentId: opts.name, renderedCompose, env, nodeId });
        if (!opts.wait) {
          ctx.show(CreateDeploymentResponseSchema, res, () => `deployment ${res.deploymentId} revision ${res.revision} ${res.status}${res.jobId ? `, job ${res.jobId}` : ""}\n${res.message}\n`);
          return;
        }
        io.err(`deployment ${res.deploymentId} revision ${res.revision} ${res.status}\n`);
        showDeployment(ctx, await waitForDeployment(ctx, res.deploymentId, res.jobId));
      }),
    );

  program
    .command("deployments")
    .description("list deployments")
    .option("--node <id>", "only deployments on this node")
    .action(
      action(io, async (ctx, opts: { node?: string }) => {
        const client = (await ctx.clients()).of(DeploymentService);
        const res = await allPages(
          (pageToken) => client.listDeployments({ nodeId: opts.node ?? "", pageSize: 1000, pageToken }),
          (r) => r.deployments,
          (r, all) => (r.deployments = all),
        );
        ctx.show(ListDeploymentsResponseSchema, res, () =>
          table(res.deployments, [
            { header: "NAME", value: (d) => d.id },
            { header: "PROJECT", value: (d) => d.projectName },
            { header: "STATUS", value: deploymentStatus },
            { header: "REVISION", value: (d) => String(d.revision) },
            { header: "NODE", value: (d) => d.nodeId || "-" },
            { header: "AGE", value: (d) => age(d.createTime) },
            { header: "ERROR", value: (d) => d.lastError },
          ]),
        );
      }),
    );

  const deployment = program.command("deployment").description("show or remove one deployment");
  deployment
    .command("get")
    .description("show a deployment with its revisions")
    .argument("<name>", "deployment name")
    .action(
      action(io, async (ctx, deploymentId: string) => {
        const client = (await ctx.clients()).of(DeploymentService);
        const d = (await client.getDeployment({ deploymentId })).deployment;
        const revisions =
          ctx.format === "table"
            ? (await allPages((pageToken) => client.listRevisions({ deploymentId, pageSize: 1000, pageToken }), (r) => r.revisions, (r, all) => (r.revisions = all))).revisions
            : [];
        const revs = table(revisions, [
          { header: "REVISION", value: (r) => String(r.revision) },
          { header: "ACTION", value: (r) => r.action + (r.rollbackOf ? ` (rollback to ${r.rollbackOf})` : "") },
          { header: "OUTCOME", value: (r) => enumName(JobStatus, r.outcome, "JOB_STATUS_") },
          { header: "NODE", value: (r) => r.nodeId || "-" },
          { header: "JOB", value: (r) => r.jobId || "-" },
          { header: "AGE", value: (r) => age(r.createTime) },
        ]);
        showDeployment(ctx, d, `\n${revs}`);
      }),
    );
  deployment
    .command("rm")
    .description("stop a deployment and remove it")
    .argument("<name>", "deployment name")
    .option("--wait", "wait until the stop job has ended")
    .action(
      action(io, async (ctx, deploymentId: string, opts: { wait?: boolean }) => {
        const res = await (await ctx.clients()).of(DeploymentService).deleteDeployment({ deploymentId });
        if (opts.wait && res.jobId) {
          const job = await followJob(ctx, res.jobId, { onStatus: (j) => io.err(`job ${j.id} ${jobStatus(j)}\n`) });
          if (job.status !== JobStatus.COMPLETED) throw new OperationFailedError(`deployment ${deploymentId}: stop job ${job.id} ${jobStatus(job)}: ${job.error}`);
        }
        ctx.show(DeleteDeploymentResponseSchema, res, () => `deployment ${res.deploymentId} ${res.status}${res.jobId ? `, job ${res.jobId}` : ""}\n`);
      }),
    );

  program
    .command("rollback")
    .description("deploy a deployment's previous revision again (or --to a given one)")
    .argument("<name>", "deployment name")
    .option("--to <revision>", "the revision to go back to (default: the one before the current)")
    .option("--wait", "show progress until the deployment runs or fails")
    .action(
      action(io, async (ctx, deploymentId: string, opts: { to?: string; wait?: boolean }) => {
        const revision = opts.to === undefined ? 0 : positiveInt("--to", opts.to);
        const res = await (await ctx.clients()).of(DeploymentService).rollbackDeployment({ deploymentId, revision });
        if (opts.wait) {
          io.err(`deployment ${deploymentId} rolling back to revision ${revision || "previous"}\n`);
          showDeployment(ctx, await waitForDeployment(ctx, deploymentId, res.jobId));
          return;
        }
        showDeployment(ctx, res.deployment);
      }),
    );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
