import type { Logger } from "pino";
import type { DeploymentState } from "../state/deployment-state.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import { Placer } from "../orchestrator/placer.js";
import type { CommandBus } from "../model/command-bus.js";
import type { Deployment, DeploymentRevision, DeploymentStatus, DeploymentStore } from "../model/deployment.js";
import { composeHash, deploymentIdFor, optionalTemplate, projectNameFor, requireCompose, requireProjectName, validateEnv } from "../model/deployment-validation.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../model/errors.js";
import { TERMINAL, type Job, type JobStatus } from "../model/job.js";
import type { UnitOfWork } from "../model/unit-of-work.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { NodeRegistry } from "./node-registry.js";
import type { PlacementRequirements } from "../model/placement.js";
import { repairUnsent } from "./deployment-repair.js";

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
  /** A deployment, its revision and its job are written in one transaction. */
  uow: UnitOfWork;
  nodes: NodeRegistry;
  /** The cluster as the scheduler should see it now. */
  snapshot: () => ClusterSnapshot;
  /** round_robin's position, shared with the service reconciler so deployments and services take turns. */
  rotation?: { placementCursor: string };
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
  /** The revision outcome last written per running deploy job, so an unchanged one is not written again. */
  private readonly outcomes = new Map<string, JobStatus>();

  constructor(private readonly deps: DeploymentManagerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Loads deployments, repairs any left without their job, and starts following their jobs. */
  async start(): Promise<void> {
    this.deps.state.load(await this.deps.store.listAll());
    await repairUnsent(this.deps, (d, revision) => this.lock.run(d.id, () => this.sendDeploy(d, revision)), (job) => this.onJob(job));
    // The replica that wrote a job's change moves its deployment on; the others hear of both through the feed.
    this.deps.bus.onJobChange((job, remote) => {
      if (!remote && job.deploymentId && (job.type === "deploy_compose" || job.type === "stop_compose")) {
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
      const job = await this.sendDeploy(deployment, {
        deploymentId: id, revision: deployment.revision, renderedCompose: deployment.renderedCompose, composeHash: deployment.composeHash,
        env: deployment.env, action, nodeId: deployment.nodeId, jobId: "", outcome: "pending", rollbackOf, createdAt: now,
      });
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
        await this.sendDeploy({ ...current, nodeId, lastError: "", updatedAt: this.now() });
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
      let next = d;
      // The stop job and the deployment's new state commit together; the job goes out after.
      const job = await this.deps.uow.transaction(async (tx) => {
        const queued = await this.deps.bus.submit({ nodeId, deploymentId: id, payload: { type: "stop_compose", projectName: d.projectName } }, tx);
        next = { ...d, status: "stopping", removing: remove, lastJobId: queued.id, updatedAt: this.now() };
        await tx.deployments.save(next);
        tx.onCommit(() => this.deps.state.put(next));
        return queued;
      });
      return { deployment: next, job: await this.deps.bus.get(job.id) };
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

  /**
   * Writes the deployment, its revision (new, or its outcome) and, when it
   * has a node, its DEPLOY_COMPOSE job in one transaction; the job is sent
   * once that commits, and the deployment follows it from there. The caller
   * holds the deployment's lock.
   */
  private async sendDeploy(d: Deployment, revision?: DeploymentRevision): Promise<Job | undefined> {
    const job = await this.deps.uow.transaction(async (tx) => {
      const queued = d.nodeId
        ? await this.deps.bus.submit(
            { nodeId: d.nodeId, deploymentId: d.id, payload: { type: "deploy_compose", projectName: d.projectName, composeFile: d.renderedCompose, env: d.env, revision: d.revision } },
            tx,
          )
        : undefined;
      const next: Deployment = queued ? { ...d, lastJobId: queued.id, status: JOB_TO_STATUS[queued.status] ?? "pending", lastError: queued.error || d.lastError } : d;
      await tx.deployments.save(next);
      if (revision) await tx.deployments.addRevision({ ...revision, jobId: queued?.id ?? "", outcome: queued?.status ?? "pending" });
      else if (queued) await tx.deployments.setRevisionOutcome(d.id, d.revision, queued.status, queued.id);
      if (queued) tx.onCommit(() => void this.outcomes.set(`${d.id}@${d.revision}:${queued.id}`, queued.status));
      // The job's first events wait for the deployment's lock, which the caller holds.
      tx.onCommit(() => this.deps.state.put(next));
      return queued;
    });
    if (!job) return undefined;
    const latest = await this.deps.bus.get(job.id);
    await this.follow(latest);
    return latest;
  }

  private onJob(job: Job): Promise<void> {
    return this.lock.run(job.deploymentId, () => this.follow(job));
  }

  /** Moves the deployment on with its current job; one write per change (the caller holds its lock). */
  private async follow(event: Job): Promise<void> {
    const d = this.deps.state.get(event.deploymentId);
    if (!d || d.lastJobId !== event.id) return;
    // Events are handled after the fact: act on the job as it is now, so an older event cannot undo a newer one.
    const job = TERMINAL.has(event.status) ? event : await this.deps.bus.get(event.id);
    if (job.type === "stop_compose" && job.status === "completed" && d.removing) {
      await this.deps.store.delete(d.id);
      this.deps.state.remove(d.id);
      this.deps.logger.info({ deploymentId: d.id }, "deployment removed");
      return;
    }
    const status = job.type === "stop_compose" ? (job.status === "completed" ? "stopped" : d.status) : JOB_TO_STATUS[job.status];
    if (!status) return;
    const outcome = `${d.id}@${d.revision}:${job.id}`;
    const outcomeChanged = job.type === "deploy_compose" && this.outcomes.get(outcome) !== job.status;
    if (status !== d.status || job.logs !== d.lastLogs || job.error !== d.lastError) {
      const next: Deployment = { ...d, status, lastLogs: job.logs, lastError: job.error, updatedAt: this.now() };
      await this.deps.store.save(next);
      this.deps.state.put(next);
    }
    if (outcomeChanged) {
      await this.deps.store.setRevisionOutcome(d.id, d.revision, job.status, job.id);
      this.outcomes.set(outcome, job.status);
      if (TERMINAL.has(job.status)) this.outcomes.delete(outcome);
    }
  }

  private stickyNode(existing: Deployment | undefined, requirements: PlacementRequirements): string | undefined {
    if (!existing?.nodeId) return undefined;
    const ok = new Placer({ nodes: this.deps.snapshot().nodes.filter((n) => n.id === existing.nodeId) }).place({ requirements, count: 1, group: existing.id });
    return ok.placements[0];
  }

  private place(id: string, requirements: PlacementRequirements): string | undefined {
    const placer = new Placer(this.deps.snapshot(), { cursor: this.deps.rotation?.placementCursor });
    const nodeId = placer.place({ requirements, count: 1, group: id }).placements[0];
    if (nodeId && this.deps.rotation) this.deps.rotation.placementCursor = placer.cursor;
    return nodeId;
  }

  private explainShort(id: string, requirements: PlacementRequirements): string {
    return new Placer(this.deps.snapshot()).place({ requirements, count: 1, group: id }).summary;
  }
}
