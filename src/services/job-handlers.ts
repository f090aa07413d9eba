import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { AsyncQueue } from "../shared/async-queue.js";
import type { JobLifecycle } from "../model/job-lifecycle.js";
import type { JobEvent, JobEvents } from "../managers/job-events.js";
import { InvalidArgumentError } from "../model/errors.js";
import { TERMINAL } from "../model/job.js";
import { requireId } from "../model/validate.js";
import { jobStatusFromProto, jobToProto, linesToProto } from "../rpc/job-convert.js";

type JobHandlers = Pick<ServiceImpl<typeof DeploymentService>, "getJob" | "listJobs" | "cancelJob" | "watchJob">;

/** What the job handlers need. */
export interface JobHandlerDeps {
  jobs: JobLifecycle;
  events: JobEvents;
}

/** DeploymentService's job RPCs: get, list, cancel and watch. */
export function createJobHandlers(deps: JobHandlerDeps): JobHandlers {
  const { jobs: lifecycle, events } = deps;
  return {
    async getJob(req) {
      return { job: jobToProto(await lifecycle.get(requireId("job_id", req.jobId))) };
    },
    async listJobs(req) {
      if (req.pageSize < 0) throw new InvalidArgumentError("page_size", "must not be negative");
      const size = Math.min(req.pageSize || 100, 1000);
      const status = jobStatusFromProto(req.status, "status");
      const cursor = req.pageToken ? decodeCursor(req.pageToken) : undefined;
      const jobs = await lifecycle.list({
        nodeId: req.nodeId || undefined,
        deploymentId: req.deploymentId || undefined,
        statuses: status ? [status] : undefined,
        newestFirst: true,
        limit: size + 1,
        cursor,
      });
      const page = jobs.slice(0, size);
      const last = page.at(-1);
      return {
        jobs: page.map(jobToProto),
        nextPageToken: jobs.length > size && last ? Buffer.from(JSON.stringify([last.createdAt.getTime(), last.id])).toString("base64url") : "",
      };
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

function decodeCursor(token: string): { createdAt: Date; id: string } {
  try {
    const [ms, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as [number, string];
    if (typeof ms !== "number" || typeof id !== "string") throw new Error("shape");
    return { createdAt: new Date(ms), id };
  } catch {
    throw new InvalidArgumentError("page_token", "is not a token from a previous response");
  }
}
