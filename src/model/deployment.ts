import type { JobStatus } from "./job.js";
import type { PlacementRequirements } from "./placement.js";

/** State of a compose deployment. */
export type DeploymentStatus = "pending" | "deploying" | "running" | "failed" | "stopping" | "stopped";

/** A docker-compose project placed on one node (seeds 001, 002). */
export interface Deployment {
  id: string;
  projectName: string;
  templateId: string;
  /** Empty while no node has been chosen. */
  nodeId: string;
  status: DeploymentStatus;
  revision: number;
  renderedCompose: string;
  composeHash: string;
  /** Secret: never logged, never returned by reads (only the keys are). */
  env: Record<string, string>;
  requirements: PlacementRequirements;
  lastJobId: string;
  lastLogs: string;
  lastError: string;
  /** Set while a delete's stop job runs: the deployment goes when it completes. */
  removing: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** One apply of a deployment. */
export interface DeploymentRevision {
  deploymentId: string;
  revision: number;
  renderedCompose: string;
  composeHash: string;
  env: Record<string, string>;
  action: "apply" | "delete" | "rollback";
  nodeId: string;
  jobId: string;
  outcome: JobStatus | "pending";
  rollbackOf: number;
  createdAt: Date;
}

/** Durable storage of deployments and their revisions. */
export interface DeploymentStore {
  listAll(): Promise<Deployment[]>;
  get(id: string): Promise<Deployment | undefined>;
  save(d: Deployment): Promise<void>;
  delete(id: string): Promise<void>;
  addRevision(r: DeploymentRevision): Promise<void>;
  /** Newest first. */
  listRevisions(deploymentId: string): Promise<DeploymentRevision[]>;
  setRevisionOutcome(deploymentId: string, revision: number, outcome: DeploymentRevision["outcome"], jobId: string): Promise<void>;
}
