import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { AsyncQueue } from "../shared/async-queue.js";
import type { JobLifecycle } from "../model/job-lifecycle.js";
import type { JobEvent, JobEvents } from "../managers/job-events.js";
import { TERMINAL, type Job } from "../model/job.js";
import { listOrder, pageOfRows, pageRequest } from "../model/pagination.js";
import { requireId } from "../model/validate.js";
import { jobStatusFromProto, jobToProto, linesToProto } from "../rpc/job-convert.js";

type JobHandlers = Pick<ServiceImpl<typeof DeploymentService>, "getJob" | "listJobs" | "cancelJob" | "watchJob">;

/** What the job handlers need. */
export interface JobHandlerDeps {
  jobs: JobLifecycle;
  events: JobEvents;
}

// Newest first, ties by id: the order the job store reads in (createdAt desc, id desc).
const JOB_ORDER = listOrder<Job>({ name: "jobs.newest", parts: ["number", "string"], key: (j) => [j.createdAt.getTime(), j.id], descending: true });

/** DeploymentService's job RPCs: get, list, cancel and watch. */
export function createJobHandlers(deps: JobHandlerDeps): JobHandlers {
  const { jobs: lifecycle, events } = deps;
  return {
    async getJob(req) {
      return { job: jobToProto(await lifecycle.get(requireId("job_id", req.jobId))) };
    },
    async listJobs(req) {
      const status = jobStatusFromProto(req.status, "status");
      const paging = pageRequest(JOB_ORDER, req);
      const after = paging.after;
      const jobs = await lifecycle.list({
        nodeId: req.nodeId || undefined,
        deploymentId: req.deploymentId || undefined,
        statuses: status ? [status] : undefined,
        newestFirst: true,
        limit: paging.size + 1,
        cursor: after ? { createdAt: new Date(after[0] as number), id: after[1] as string } : undefined,
      });
      const page = pageOfRows(jobs, JOB_ORDER, paging);
      return { jobs: page.items.map(jobToProto), nextPageToken: page.nextPageToken };
    },
    async cancelJob(req) {
      return { job: jobToProto(await lifecycle.cancel(requireId("job_id", req.jobId), req.reason)) };
    },
    async *watchJob(req, ctx: HandlerContext) {
      const jobId = requireId("job_id", req.jobId);
      const queue = new AsyncQueue<JobEvent>();
      // Subscribe before reading, so no change between the read and the subscription is lost.
      const unsubscribe = events.onJob(jobId, (e) => queue.push(e));
      const onAbort = () => queue.end();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        const job = await lifecycle.get(jobId);
        yield { job: jobToProto(job), lines: [] };
        if (TERMINAL.has(job.status)) return;
        for await (const e of queue) {
          yield { job: jobToProto(e.job), lines: linesToProto(e.lines) };
          if (TERMINAL.has(e.job.status)) return;
        }
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
