import type { Logger } from "pino";
import type { DeploymentState } from "../state/deployment-state.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { Placer } from "../orchestrator/placer.js";
import type { CommandBus } from "../model/command-bus.js";
import type { Deployment, DeploymentRevision, DeploymentStatus, DeploymentStore } from "../model/deployment.js";
import { composeHash, deploymentIdFor, optionalTemplate, projectNameFor, requireCompose, requireProjectName, validateEnv } from "../model/deployment-validation.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../model/errors.js";
import type { Job, JobStatus } from "../model/job.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { NodeRegistry } from "./node-registry.js";
import type { PlacementRequirements } from "../model/placement.js";

/** What a caller supplies to deploy a compose project. */
export interface DeploymentInput {
  deploymentId: string;
  projectName: string;
  templateId: string;
  renderedCompose: string;
  env: Record<string, string>;
  /** Run on this node; empty lets the scheduler choose. */
  nodeId: string;
  requirements: PlacementRequirements;
}

/** What DeploymentManager needs. */
export interface DeploymentManagerDeps {
  store: DeploymentStore;
  state: DeploymentState;
  bus: CommandBus;
  nodes: NodeRegistry;
  /** The cluster as the scheduler should see it now. */
  snapshot: () => ClusterSnapshot;
  logger: Logger;
  now?: () => Date;
}

const JOB_TO_STATUS: Partial<Record<JobStatus, DeploymentStatus>> = {
  queued: "pending",
  dispatched: "deploying",
  in_progress: "deploying",
  completed: "running",
  failed: "failed",
  timed_out: "failed",
  cancelled: "failed",
};

/**
 * Compose deployments: every apply is a revision, placed by the scheduler
 * (or pinned to a node), carried out by a DEPLOY_COMPOSE job, and followed to
 * its outcome through job changes. Deleting runs STOP_COMPOSE, then removes
 * the deployment.
 */
export class DeploymentManager {
  private readonly lock = new KeyedLock();
  private readonly now: () => Date;

  constructor(private readonly deps: DeploymentManagerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Loads deployments and starts following their jobs. */
  async start(): Promise<void> {
    this.deps.state.load(await this.deps.store.listAll());
    this.deps.bus.onJobChange((job) => {
      if (job.deploymentId && (job.type === "deploy_compose" || job.type === "stop_compose")) {
        void this.onJob(job).catch((err: unknown) => this.deps.logger.error({ err, jobId: job.id }, "updating deployment from job failed"));
      }
    });
  }

  /** Accepts an apply: a new revision, placed and sent as a DEPLOY_COMPOSE job. */
  async apply(input: DeploymentInput, action: DeploymentRevision["action"] = "apply", rollbackOf = 0): Promise<{ deployment: Deployment; job: Job | undefined }> {
    const projectName = requireProjectName("project_name", input.projectName || projectNameFor(input.deploymentId));
    const id = deploymentIdFor(input.deploymentId, projectName);
    requireCompose("rendered_compose", input.renderedCompose);
    validateEnv("env", input.env);
    optionalTemplate(input.templateId);
    if (input.nodeId !== "") this.deps.nodes.get(input.nodeId);
    return this.lock.run(id, async () => {
      const existing = this.deps.state.get(id);
      const other = this.deps.state.byProject(projectName);
      if (other && other.id !== id) throw new InvalidArgumentError("project_name", `project "${projectName}" belongs to deployment "${other.id}"`);
      const now = this.now();
      const requirements = { ...input.requirements, requireDocker: true };
      const nodeId = input.nodeId || this.stickyNode(existing, requirements) || this.place(id, requirements);
      const deployment: Deployment = {
        id,
        projectName,
        templateId: input.templateId,
        nodeId: nodeId ?? "",
        status: "pending",
        revision: (existing?.revision ?? 0) + 1,
        renderedCompose: input.renderedCompose,
        composeHash: composeHash(input.renderedCompose),
        env: input.env,
        requirements,
        lastJobId: existing?.lastJobId ?? "",
        lastLogs: existing?.lastLogs ?? "",
        lastError: nodeId ? "" : `no node can run it: ${this.explainShort(id, requirements)}`,
        removing: false,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await this.deps.store.save(deployment);
      await this.deps.store.addRevision({
        deploymentId: id, revision: deployment.revision, renderedCompose: deployment.renderedCompose, composeHash: deployment.composeHash,
        env: deployment.env, action, nodeId: deployment.nodeId, jobId: "", outcome: "pending", rollbackOf, createdAt: now,
      });
      this.deps.state.put(deployment);
      const job = nodeId ? await this.sendDeploy(deployment) : undefined;
      return { deployment: this.deps.state.get(id) ?? deployment, job };
    });
  }

  /** Sends pending deployments that have no node yet to a node that can now take them. */
  async retryPending(): Promise<void> {
    if (!this.deps.state.list().some((d) => d.status === "pending" && d.nodeId === "")) return;
    for (const d of this.deps.state.list()) {
      if (d.status !== "pending" || d.nodeId !== "") continue;
      await this.lock.run(d.id, async () => {
        const current = this.deps.state.get(d.id);
        if (!current || current.nodeId !== "") return;
        const nodeId = this.place(current.id, current.requirements);
        if (!nodeId) return;
        const placed = { ...current, nodeId, lastError: "", updatedAt: this.now() };
        await this.deps.store.save(placed);
        this.deps.state.put(placed);
        await this.sendDeploy(placed);
      });
    }
  }

  /** Every deployment. */
  list(): Deployment[] {
    return this.deps.state.list();
  }

  /** One deployment, or NotFound. */
  get(id: string): Deployment {
    const d = this.deps.state.get(id);
    if (!d) throw new NotFoundError("deployment", id);
    return d;
  }

  /** The deployment of a compose project, or NotFound. */
  getByProject(projectName: string): Deployment {
    const d = this.deps.state.byProject(projectName);
    if (!d) throw new NotFoundError("project", projectName);
    return d;
  }

  /** Revisions, newest first. */
  async revisions(id: string): Promise<DeploymentRevision[]> {
    this.get(id);
    return this.deps.store.listRevisions(id);
  }

  /** Stops the project on its node and removes the deployment when that job completes. */
  delete(id: string): Promise<{ deployment: Deployment; job: Job | undefined }> {
    return this.stop(id, "", true);
  }

  /**
   * Stops the project on its node (seed 002's stop); with remove, the
   * deployment goes away once the stop completes, else it stays as stopped.
   */
  async stop(id: string, nodeOverride = "", remove = false): Promise<{ deployment: Deployment; job: Job | undefined }> {
    if (nodeOverride !== "") this.deps.nodes.get(nodeOverride);
    return this.lock.run(id, async () => {
      const d = this.get(id);
      const nodeId = nodeOverride || d.nodeId;
      if (nodeId === "") {
        if (!remove) throw new FailedPreconditionError(`deployment "${id}" was never placed on a node`);
        await this.deps.store.delete(id);
        this.deps.state.remove(id);
        return { deployment: { ...d, status: "stopped" }, job: undefined };
      }
      const job = await this.deps.bus.submit({ nodeId, deploymentId: id, payload: { type: "stop_compose", projectName: d.projectName } });
      const next: Deployment = { ...d, status: "stopping", removing: remove, lastJobId: job.id, updatedAt: this.now() };
      await this.deps.store.save(next);
      this.deps.state.put(next);
      return { deployment: next, job };
    });
  }

  /** Redeploys an earlier revision (default: the one before the current) as a new revision. */
  async rollback(id: string, revision: number): Promise<{ deployment: Deployment; job: Job | undefined }> {
    const d = this.get(id);
    const target = revision || d.revision - 1;
    if (target < 1) throw new FailedPreconditionError(`deployment "${id}" has no earlier revision to roll back to`);
    const rev = (await this.deps.store.listRevisions(id)).find((r) => r.revision === target && r.action !== "delete");
    if (!rev) throw new NotFoundError("revision", `${id}@${target}`);
    return this.apply(
      { deploymentId: id, projectName: d.projectName, templateId: d.templateId, renderedCompose: rev.renderedCompose, env: rev.env, nodeId: "", requirements: d.requirements },
      "rollback",
      target,
    );
  }

  private async sendDeploy(d: Deployment): Promise<Job> {
    const job = await this.deps.bus.submit({
      nodeId: d.nodeId,
      deploymentId: d.id,
      payload: { type: "deploy_compose", projectName: d.projectName, composeFile: d.renderedCompose, env: d.env, revision: d.revision },
    });
    await this.deps.store.setRevisionOutcome(d.id, d.revision, job.status, job.id);
    const latest = this.deps.state.get(d.id) ?? d;
    const next: Deployment = { ...latest, lastJobId: job.id, status: JOB_TO_STATUS[job.status] ?? "deploying", updatedAt: this.now() };
    await this.deps.store.save(next);
    this.deps.state.put(next);
    return job;
  }

  private async onJob(job: Job): Promise<void> {
    await this.lock.run(job.deploymentId, async () => {
      const d = this.deps.state.get(job.deploymentId);
      if (!d || d.lastJobId !== job.id) return;
      if (job.type === "stop_compose" && job.status === "completed" && d.removing) {
        await this.deps.store.delete(d.id);
        this.deps.state.remove(d.id);
        this.deps.logger.info({ deploymentId: d.id }, "deployment removed");
        return;
      }
      const status = job.type === "stop_compose" ? (job.status === "completed" ? "stopped" : d.status) : JOB_TO_STATUS[job.status];
      if (!status) return;
      const next: Deployment = { ...d, status, lastLogs: job.logs, lastError: job.error, updatedAt: this.now() };
      await this.deps.store.save(next);
      this.deps.state.put(next);
      if (job.type === "deploy_compose") await this.deps.store.setRevisionOutcome(d.id, d.revision, job.status, job.id);
    });
  }

  private stickyNode(existing: Deployment | undefined, requirements: PlacementRequirements): string | undefined {
    if (!existing?.nodeId) return undefined;
    const ok = new Placer({ nodes: this.deps.snapshot().nodes.filter((n) => n.id === existing.nodeId) }).place({ requirements, count: 1, group: existing.id });
    return ok.placements[0];
  }

  private place(id: string, requirements: PlacementRequirements): string | undefined {
    return new Placer(this.deps.snapshot()).place({ requirements, count: 1, group: id }).placements[0];
  }

  private explainShort(id: string, requirements: PlacementRequirements): string {
    return new Placer(this.deps.snapshot()).place({ requirements, count: 1, group: id }).summary;
  }
}
