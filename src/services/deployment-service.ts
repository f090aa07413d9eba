import type { ServiceImpl } from "@connectrpc/connect";
import type { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import type { JobLifecycle } from "../model/job-lifecycle.js";
import type { JobEvents } from "../managers/job-events.js";
import type { DeploymentManager } from "../managers/deployment-manager.js";
import type { ProjectManager } from "../managers/project-manager.js";
import type { ServiceManager } from "../managers/service-manager.js";
import type { TaskManager } from "../managers/task-manager.js";
import type { ClusterSnapshot } from "../orchestrator/snapshot.js";
import type { Caller } from "../model/principal.js";
import type { ServiceState } from "../state/service-state.js";
import { createDeploymentHandlers } from "./deployment-handlers.js";
import { createJobHandlers } from "./job-handlers.js";
import { createServiceHandlers } from "./service-handlers.js";

/** What DeploymentService needs. */
export interface DeploymentServiceDeps {
  deployments: DeploymentManager;
  projects: ProjectManager;
  services: ServiceManager;
  serviceState: ServiceState;
  snapshot: () => ClusterSnapshot;
  jobs: JobLifecycle;
  events: JobEvents;
  /** Tasks, for the scheduled runs and the after-deploy outcome shown on services. */
  tasks?: TaskManager;
  /** See DeploymentHandlerDeps.prepareChunks. */
  prepareChunks?: (caller: Caller, chunkIds: readonly string[] | undefined) => Promise<void>;
}

/** DeploymentService: compose deployments and projects, services, explanations and jobs, one file per concern. */
export function createDeploymentService(deps: DeploymentServiceDeps): ServiceImpl<typeof DeploymentService> {
  return {
    ...createDeploymentHandlers({ deployments: deps.deployments, projects: deps.projects, listJobs: (f) => deps.jobs.list(f), listUnfinishedJobs: (f) => deps.jobs.listUnfinished(f), bus: deps.jobs, prepareChunks: deps.prepareChunks }),
    ...createServiceHandlers({ services: deps.services, state: deps.serviceState, snapshot: deps.snapshot, tasks: deps.tasks, prepareChunks: deps.prepareChunks }),
    ...createJobHandlers({ jobs: deps.jobs, events: deps.events }),
  };
}
