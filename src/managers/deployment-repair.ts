import type { Logger } from "pino";
import type { CommandBus } from "../model/command-bus.js";
import type { Deployment, DeploymentRevision } from "../model/deployment.js";
import type { Job } from "../model/job.js";
import type { Node } from "../model/node.js";
import type { UnitOfWork } from "../model/unit-of-work.js";
import type { DeploymentState } from "../state/deployment-state.js";

/** What the repair needs (a part of DeploymentManagerDeps). */
export interface RepairDeps {
  state: DeploymentState;
  bus: CommandBus;
  uow: UnitOfWork;
  nodes: { find(nodeId: string): Node | undefined };
  logger: Logger;
}

/** Whether job is the DEPLOY_COMPOSE job of the deployment's current revision. */
function deploys(job: Job | undefined, d: Deployment): boolean {
  return job?.type === "deploy_compose" && job.payload.type === "deploy_compose" && job.payload.revision === d.revision;
}

/**
 * At start-up, repairs the deployments an older server left pending on a node
 * without their job (it wrote the deployment, then died before submitting
 * the job; they stayed pending, pinned to the node, forever). Such a
 * deployment is linked to its job if the job was written after all; else its
 * job is submitted when its node is still registered (the apply was accepted
 * and recorded: carrying it out is what the caller asked for); else it is
 * marked failed with the reason, since nothing can run it. See
 * docs/deployments.md.
 */
export async function repairUnsent(
  deps: RepairDeps,
  send: (d: Deployment, revision: DeploymentRevision | undefined) => Promise<Job | undefined>,
  follow: (job: Job) => Promise<void>,
): Promise<void> {
  for (const d of deps.state.list()) {
    if (d.status !== "pending" || d.nodeId === "") continue;
    if (d.lastJobId && deploys(await deps.bus.get(d.lastJobId).catch(() => undefined), d)) continue;
    const [jobs, revisions] = await deps.uow.transaction(async (tx) =>
      Promise.all([tx.jobs.list({ deploymentId: d.id, types: ["deploy_compose"], newestFirst: true }), tx.deployments.listRevisions(d.id)]),
    );
    const job = jobs.find((j) => deploys(j, d));
    const stored = revisions.find((r) => r.revision === d.revision);
    const missing: DeploymentRevision | undefined = stored
      ? undefined
      : {
          deploymentId: d.id, revision: d.revision, renderedCompose: d.renderedCompose, composeHash: d.composeHash, env: d.env,
          action: "apply", nodeId: d.nodeId, jobId: "", outcome: "pending", rollbackOf: 0, createdAt: d.updatedAt,
        };
    const log = deps.logger.child({ deploymentId: d.id, revision: d.revision, nodeId: d.nodeId });
    if (job) {
      await record(deps, { ...d, lastJobId: job.id }, missing, job.status, job.id);
      await follow(job);
      log.warn({ jobId: job.id }, "repaired a pending deployment: linked to the job it had lost track of");
    } else if (deps.nodes.find(d.nodeId)) {
      const sent = await send(d, missing);
      log.warn({ jobId: sent?.id }, "repaired a pending deployment left without its job: job submitted");
    } else {
      const lastError = `left without its job by an earlier crash, and its node ${d.nodeId} is no longer registered: apply it again`;
      await record(deps, { ...d, status: "failed", lastError }, missing, "failed", "");
      log.warn("repaired a pending deployment left without its job: marked failed (its node is gone)");
    }
  }
}

/** Writes the repaired deployment with its revision's outcome in one transaction, then into the view. */
async function record(deps: RepairDeps, d: Deployment, missing: DeploymentRevision | undefined, outcome: DeploymentRevision["outcome"], jobId: string): Promise<void> {
  await deps.uow.transaction(async (tx) => {
    await tx.deployments.save(d);
    if (missing) await tx.deployments.addRevision({ ...missing, outcome, jobId });
    else await tx.deployments.setRevisionOutcome(d.id, d.revision, outcome, jobId);
  });
  deps.state.put(d);
}
