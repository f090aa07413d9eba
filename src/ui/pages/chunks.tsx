import { createColumnHelper } from "@tanstack/react-table";
import { Link } from "wouter";
import { CommandType, JobStatus, type Job } from "../../../gen/proto/capstan/v1/job_pb.js";
import { enumLabel, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const CHUNK_TYPES = new Set([CommandType.REPLICATE_CHUNK, CommandType.EVICT_CHUNK]);
const PENDING = new Set([JobStatus.QUEUED, JobStatus.DISPATCHED, JobStatus.IN_PROGRESS]);
const col = createColumnHelper<Job>();
const columns = [
  col.accessor("id", { header: "Command", cell: (c) => <Link href={`/jobs/${encodeURIComponent(c.getValue())}`}>{c.getValue()}</Link> }),
  col.accessor((j) => enumLabel(CommandType, j.type), { id: "type", header: "Type" }),
  col.accessor((j) => enumLabel(JobStatus, j.status), { id: "status", header: "Status" }),
  col.accessor("nodeId", { header: "Node" }),
  col.accessor((j) => when(j.createTime), { id: "created", header: "Created" }),
];

/** The chunk index: cluster figures, replication health, pending replication commands. */
export function Chunks() {
  const { api } = useSession();
  const q = useLiveQuery(
    async () => {
      const [m, jobs] = await Promise.all([api.chunks.getClusterMetrics({}), api.deployments.listJobs({ pageSize: 500 })]);
      return { m, pending: jobs.jobs.filter((j) => CHUNK_TYPES.has(j.type) && PENDING.has(j.status)) };
    },
    ["chunk_commands", "chunk_targets", "nodes"],
  );
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading />;
  const { m, pending } = q.data;
  return (
    <section>
      <h1>Chunks</h1>
      <ErrorNote error={q.error} />
      <dl className="facts">
        <dt>Chunks</dt><dd>{m.totalChunks} ({m.totalReplicas} copies, {(m.totalBytes / 2 ** 30).toFixed(2)} GiB)</dd>
        <dt>Nodes</dt><dd>{m.activeNodes} active, {m.offlineNodes} offline, {m.totalNodes} in all</dd>
        <dt>Under-replicated</dt><dd>{m.underReplicated} ({m.zeroReplicated} with no copy)</dd>
        <dt>Over-replicated</dt><dd>{m.overReplicated}</dd>
        <dt>Pending commands</dt><dd>{m.pendingCommands}</dd>
        <dt>Cache hit rate</dt><dd>{(m.cacheHitRate * 100).toFixed(1)}%</dd>
      </dl>
      <DataTable label="Pending replication commands" rows={pending} columns={columns} rowId={(j) => j.id} empty="No command pending." />
    </section>
  );
}
