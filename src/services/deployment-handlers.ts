import type { ServiceImpl } from "@connectrpc/connect";
import type { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import type { CommandBus } from "../model/command-bus.js";
import type { DeploymentManager } from "../managers/deployment-manager.js";
import { InvalidArgumentError, StoreUnavailableError } from "../model/errors.js";
import type { Deployment, DeploymentRevision } from "../model/deployment.js";
import type { Job } from "../model/job.js";
import type { JobFilter } from "../model/job-store.js";
import type { ProjectManager } from "../managers/project-manager.js";
import { listOrder, paginate, pageOfSorted, pageRequest } from "../model/pagination.js";
import { requireId } from "../model/validate.js";
import { deploymentStatusFromProto, deploymentToProto, revisionToProto } from "../rpc/deployment-convert.js";
import { requirementsFromProto } from "../rpc/placement-convert.js";
import { callerKey } from "../rpc/context.js";
import type { Caller } from "../model/principal.js";

type Handlers = Pick<
  ServiceImpl<typeof DeploymentService>,
  | "createDeployment"
  | "listDeployments"
  | "getDeployment"
  | "deleteDeployment"
  | "listRevisions"
  | "rollbackDeployment"
  | "deploy"
  | "stopProject"
  | "getProjectStatus"
>;

/** What the deployment handlers need. */
export interface DeploymentHandlerDeps {
  deployments: DeploymentManager;
  projects: ProjectManager;
  /** Recent jobs of a deployment, for GetDeployment. */
  listJobs: (filter: JobFilter) => Promise<Job[]>;
  /** The same from memory, unfinished jobs only: GetDeployment's answer while the store is unavailable. */
  listUnfinishedJobs: (filter: JobFilter) => Job[];
  bus: CommandBus;
  /**
   * Before placing work that lists chunk ids on a replica that does not own
   * the chunk index: fetches those chunks' locations from the owner, as the
   * caller (ChunkLocality.prepare). Absent or a no-op with one process.
   */
  prepareChunks?: (caller: Caller, chunkIds: readonly string[] | undefined) => Promise<void>;
}

// Deployments oldest first, as DeploymentState lists them; revisions newest first.
const DEPLOYMENT_ORDER = listOrder<Deployment>({ name: "deployments.created", parts: ["number", "string"], key: (d) => [d.createdAt.getTime(), d.id] });
const REVISION_ORDER = listOrder<DeploymentRevision>({ name: "revisions.newest", parts: ["number"], key: (r) => [r.revision], descending: true });

/** DeploymentService's compose RPCs (seed 001) and project RPCs (seed 002). */
export function createDeploymentHandlers(deps: DeploymentHandlerDeps): Handlers {
  const { deployments, projects } = deps;
  return {
    async createDeployment(req, ctx) {
      const action = req.action || "apply";
      if (action !== "apply" && action !== "delete") throw new InvalidArgumentError("action", 'must be "apply" or "delete"');
      if (action === "delete") {
        const { deployment, job } = await deployments.delete(requireId("deployment_id", req.deploymentId));
        return { deploymentId: deployment.id, status: "accepted", message: "Deletion request accepted and queued for processing", jobId: job?.id ?? "", revision: deployment.revision };
      }
      const requirements = requirementsFromProto(req.requirements, "requirements");
      await deps.prepareChunks?.(ctx.values.get(callerKey), requirements.chunkIds);
      const { deployment, job } = await deployments.apply({
        deploymentId: req.deploymentId,
        projectName: req.projectName,
        templateId: req.templateId,
        renderedCompose: req.renderedCompose,
        env: { ...req.env },
        nodeId: req.nodeId,
        requirements,
      });
      return {
        deploymentId: deployment.id,
        status: "accepted",
        message: job ? "Deployment request accepted and queued for processing" : `Deployment request accepted; waiting for a node: ${deployment.lastError}`,
        jobId: job?.id ?? "",
        revision: deployment.revision,
      };
    },
    listDeployments(req) {
      const status = deploymentStatusFromProto(req.status, "status");
      const paging = pageRequest(DEPLOYMENT_ORDER, req);
      const all = deployments.list().filter((d) => (!req.nodeId || d.nodeId === req.nodeId) && (!status || d.status === status));
      const page = pageOfSorted(all, DEPLOYMENT_ORDER, paging);
      return { deployments: page.items.map((d) => deploymentToProto(d)), count: all.length, nextPageToken: page.nextPageToken };
    },
    async getDeployment(req) {
      const d = deployments.get(requireId("deployment_id", req.deploymentId));
      const filter: JobFilter = { deploymentId: d.id, newestFirst: true, limit: 20 };
      // The deployment itself is in memory; during a store outage its finished jobs are not.
      const jobs = await deps.listJobs(filter).catch((err: unknown) => {
        if (err instanceof StoreUnavailableError) return deps.listUnfinishedJobs(filter);
        throw err;
      });
      return { deployment: deploymentToProto(d, jobs) };
    },
    async deleteDeployment(req) {
      const { deployment, job } = await deployments.delete(requireId("deployment_id", req.deploymentId));
      return { deploymentId: deployment.id, status: job ? "deleting" : "deleted", jobId: job?.id ?? "" };
    },
    async listRevisions(req) {
      const page = paginate(await deployments.revisions(requireId("deployment_id", req.deploymentId)), REVISION_ORDER, req);
      return { revisions: page.items.map(revisionToProto), nextPageToken: page.nextPageToken };
    },
    async rollbackDeployment(req) {
      if (req.revision < 0) throw new InvalidArgumentError("revision", "must not be negative");
      const { deployment, job } = await deployments.rollback(requireId("deployment_id", req.deploymentId), req.revision);
      return { deployment: deploymentToProto(deployment), jobId: job?.id ?? "" };
    },
    async deploy(req) {
      const { job, deploymentId } = await projects.deploy(req.projectName, req.composeFileBase64, req.agentId);
      return { jobId: job?.id ?? "", deploymentId, status: "queued", message: `Deployment of ${req.projectName} queued` };
    },
    async stopProject(req) {
      const job = await projects.stop(req.projectName, req.agentId);
      return { jobId: job?.id ?? "", status: "queued", message: `Stop of ${req.projectName} queued` };
    },
    async getProjectStatus(req) {
      return projects.status(req.projectName);
    },
  };
}
