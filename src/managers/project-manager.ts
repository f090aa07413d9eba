import type { CommandBus } from "../model/command-bus.js";
import type { DeploymentManager } from "./deployment-manager.js";
import { requireProjectName } from "../model/deployment-validation.js";
import { InvalidArgumentError, StoreUnavailableError, UnavailableError } from "../model/errors.js";
import { TERMINAL, type Job } from "../model/job.js";
import type { NodeRegistry } from "./node-registry.js";
import { noRequirements } from "../model/placement.js";

/** How long GET /projects/{name}/status waits for the agent's answer. */
export const STATUS_WAIT_MS = 10_000;

/**
 * Seed 002's project API on the deployment model: a project is the deployment
 * whose project name it is; the agent is a node. An agent that is named but
 * not connected is Unavailable (503), as seed 002 documents.
 */
export class ProjectManager {
  constructor(
    private readonly deployments: DeploymentManager,
    private readonly nodes: NodeRegistry,
    private readonly bus: CommandBus,
    private readonly waitMs = STATUS_WAIT_MS,
  ) {}

  /** POST /deploy. */
  async deploy(projectName: string, composeBase64: string, agentId: string): Promise<{ job: Job | undefined; deploymentId: string }> {
    requireProjectName("project_name", projectName);
    const compose = decodeBase64("compose_file_base64", composeBase64);
    const nodeId = this.agentFor(agentId);
    const existing = this.tryProject(projectName);
    const { deployment, job } = await this.deployments.apply({
      deploymentId: existing?.id ?? projectName,
      projectName,
      templateId: "",
      renderedCompose: compose,
      env: {},
      nodeId,
      requirements: noRequirements(),
    });
    return { job, deploymentId: deployment.id };
  }

  /** POST /projects/{name}/stop. */
  async stop(projectName: string, agentId: string): Promise<Job | undefined> {
    const d = this.deployments.getByProject(projectName);
    if (agentId !== "") this.agentFor(agentId);
    return (await this.deployments.stop(d.id, agentId)).job;
  }

  /**
   * GET /projects/{name}/status: asks the agent with a STATUS job and waits for
   * its answer; answers with the last known state when the agent is offline,
   * or when the store cannot take the STATUS job (a read must not fail on that).
   */
  async status(projectName: string): Promise<{ jobId: string; status: string; logs: string }> {
    const d = this.deployments.getByProject(projectName);
    const lastKnown = { jobId: d.lastJobId, status: d.status, logs: d.lastLogs };
    if (d.nodeId === "" || !this.bus.isConnected(d.nodeId)) return lastKnown;
    let job: Job;
    try {
      job = await this.bus.submit({ nodeId: d.nodeId, deploymentId: "", payload: { type: "status", projectName } });
    } catch (err) {
      if (err instanceof StoreUnavailableError) return lastKnown;
      throw err;
    }
    const done = await this.waitFor(job);
    const containers = JSON.stringify(done.result ?? {});
    return { jobId: done.id, status: done.status, logs: done.logs + (done.result ? `${containers}\n` : "") };
  }

  private agentFor(agentId: string): string {
    if (agentId !== "") {
      const node = this.nodes.get(agentId);
      if (!this.bus.isConnected(node.id)) throw new UnavailableError(`agent "${agentId}" is not connected`);
      return node.id;
    }
    const online = this.nodes.all().find((n) => n.status === "online" && this.bus.isConnected(n.id));
    if (!online) throw new UnavailableError("no agent is online");
    return online.id;
  }

  private tryProject(name: string) {
    try {
      return this.deployments.getByProject(name);
    } catch {
      return undefined;
    }
  }

  private waitFor(job: Job): Promise<Job> {
    return new Promise((resolve) => {
      let latest = job;
      const finish = () => {
        clearTimeout(timer);
        off();
        resolve(latest);
      };
      const off = this.bus.onJobChange((j) => {
        if (j.id !== job.id) return;
        latest = j;
        if (TERMINAL.has(j.status)) finish();
      });
      const timer = setTimeout(finish, this.waitMs);
      void this.bus.get(job.id).then((j) => {
        latest = j;
        if (TERMINAL.has(j.status)) finish();
      });
    });
  }
}

function decodeBase64(field: string, text: string): string {
  if (text === "" || !/^[A-Za-z0-9+/=\s_-]+$/.test(text)) throw new InvalidArgumentError(field, "must be base64");
  const decoded = Buffer.from(text, "base64").toString("utf8");
  if (decoded.trim() === "") throw new InvalidArgumentError(field, "decodes to an empty file");
  return decoded;
}
