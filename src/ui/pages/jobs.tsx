import { createColumnHelper } from "@tanstack/react-table";
import { useState } from "react";
import { Link } from "wouter";
import { CommandType, JobStatus, type Job } from "../../../gen/proto/capstan/v1/job_pb.js";
import { enumLabel, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const col = createColumnHelper<Job>();
const columns = [
  col.accessor("id", { header: "Job", cell: (c) => <Link href={`/jobs/${encodeURIComponent(c.getValue())}`}>{c.getValue()}</Link> }),
  col.accessor((j) => enumLabel(CommandType, j.type), { id: "type", header: "Type" }),
  col.accessor((j) => enumLabel(JobStatus, j.status), { id: "status", header: "Status", cell: (c) => <span className={`status ${c.getValue()}`}>{c.getValue()}</span> }),
  col.accessor((j) => j.serviceName || j.deploymentId || "-", { id: "for", header: "For" }),
  col.accessor("nodeId", { header: "Node" }),
  col.accessor((j) => j.createTime?.seconds ?? 0n, { id: "created", header: "Created", cell: (c) => when(c.row.original.createTime) }),
];

const STATUSES = [JobStatus.QUEUED, JobStatus.DISPATCHED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED];

/** The latest jobs with their state, filtered by status. */
export function Jobs() {
  const { api } = useSession();
  const [status, setStatus] = useState<JobStatus>(JobStatus.UNSPECIFIED);
  const q = useLiveQuery(() => api.deployments.listJobs({ status, pageSize: 200 }).then((r) => r.jobs), ["jobs"], [status]);
  return (
    <section>
      <h1>Jobs</h1>
      <div className="filters">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => setStatus(Number(e.target.value))}>
            <option value={JobStatus.UNSPECIFIED}>any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>{enumLabel(JobStatus, s)}</option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={q.error} />
      {q.data ? <DataTable label="Jobs" rows={q.data} columns={columns} rowId={(j) => j.id} searchable empty="No job." /> : !q.error && <Loading />}
    </section>
  );
}
