import { create } from "@bufbuild/protobuf";
import {
  DeploymentRevisionSchema,
  DeploymentSchema,
  DeploymentStatus as PbStatus,
  type Deployment as PbDeployment,
  type DeploymentRevision as PbRevision,
} from "../../gen/proto/capstan/v1/deployment_pb.js";
import { InvalidArgumentError } from "../model/errors.js";
import type { Deployment, DeploymentRevision, DeploymentStatus } from "../model/deployment.js";
import type { Job } from "../model/job.js";
import { jobStatusToProto, jobToProto } from "./job-convert.js";
import { ts } from "./node-convert.js";
import { requirementsToProto } from "./placement-convert.js";

const toPb: Record<DeploymentStatus, PbStatus> = {
  pending: PbStatus.PENDING,
  deploying: PbStatus.DEPLOYING,
  running: PbStatus.RUNNING,
  failed: PbStatus.FAILED,
  stopping: PbStatus.STOPPING,
  stopped: PbStatus.STOPPED,
};

/** Proto deployment status filter to domain; UNSPECIFIED means none. */
export function deploymentStatusFromProto(s: PbStatus, field: string): DeploymentStatus | undefined {
  if (s === PbStatus.UNSPECIFIED) return undefined;
  const found = (Object.keys(toPb) as DeploymentStatus[]).find((k) => toPb[k] === s);
  if (!found) throw new InvalidArgumentError(field, `unknown deployment status ${String(s)}`);
  return found;
}

/** A deployment for reads: env values are secret, only their names are returned. */
export function deploymentToProto(d: Deployment, jobs: Job[] = []): PbDeployment {
  return create(DeploymentSchema, {
    id: d.id,
    projectName: d.projectName,
    templateId: d.templateId,
    nodeId: d.nodeId,
    status: toPb[d.status],
    revision: d.revision,
    renderedCompose: d.renderedCompose,
    composeHash: d.composeHash,
    envKeys: Object.keys(d.env).sort(),
    requirements: requirementsToProto(d.requirements),
    lastJobId: d.lastJobId,
    lastLogs: d.lastLogs,
    lastError: d.lastError,
    createTime: ts(d.createdAt),
    updateTime: ts(d.updatedAt),
    jobs: jobs.map(jobToProto),
  });
}

/** A revision for reads, without env values. */
export function revisionToProto(r: DeploymentRevision): PbRevision {
  return create(DeploymentRevisionSchema, {
    revision: r.revision,
    composeHash: r.composeHash,
    envKeys: Object.keys(r.env).sort(),
    action: r.action,
    nodeId: r.nodeId,
    jobId: r.jobId,
    outcome: r.outcome === "pending" ? 0 : jobStatusToProto(r.outcome),
    createTime: ts(r.createdAt),
    rollbackOf: r.rollbackOf,
  });
}
