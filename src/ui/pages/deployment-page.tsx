import { createColumnHelper } from "@tanstack/react-table";
import { Link, useLocation } from "wouter";
import { DeploymentStatus, type DeploymentRevision } from "../../../gen/proto/capstan/v1/deployment_pb.js";
import { JobStatus } from "../../../gen/proto/capstan/v1/job_pb.js";
import { enumLabel, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { ActionButton } from "../parts/action-button.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const col = createColumnHelper<DeploymentRevision>();

/** One deployment: its state, its revisions with their outcome, rollback to one, delete. */
export function DeploymentPage({ id }: { id: string }) {
  const { api, canWrite, isAdmin } = useSession();
  const [, navigate] = useLocation();
  const q = useLiveQuery(
    async () => {
      const [d, revs] = await Promise.all([api.deployments.getDeployment({ deploymentId: id }), api.deployments.listRevisions({ deploymentId: id, pageSize: 100 })]);
      return { deployment: d.deployment!, revisions: revs.revisions };
    },
    ["deployments", "jobs"],
    [id],
  );
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading />;
  const { deployment: d, revisions } = q.data;
  const columns = [
    col.accessor("revision", { header: "Revision" }),
    col.accessor((r) => (r.rollbackOf ? `${r.action} (to ${r.rollbackOf})` : r.action), { id: "action", header: "Action" }),
    col.accessor((r) => enumLabel(JobStatus, r.outcome), { id: "outcome", header: "Outcome", cell: (c) => <span className={`status ${c.getValue()}`}>{c.getValue()}</span> }),
    col.accessor("jobId", { header: "Job", cell: (c) => (c.getValue() ? <Link href={`/jobs/${encodeURIComponent(c.getValue())}`}>{c.getValue()}</Link> : "-") }),
    col.accessor((r) => r.composeHash.slice(0, 12), { id: "hash", header: "Compose" }),
    col.accessor((r) => when(r.createTime), { id: "created", header: "Created" }),
    ...(canWrite
      ? [
          col.display({
            id: "rollback",
            header: "Roll back",
            cell: (c) =>
              c.row.original.revision === d.revision ? (
                "current"
              ) : (
                <ActionButton run={() => api.deployments.rollbackDeployment({ deploymentId: d.id, revision: c.row.original.revision })} onDone={q.reload}>
                  Roll back to {c.row.original.revision}
                </ActionButton>
              ),
          }),
        ]
      : []),
  ];
  return (
    <section>
      <h1>Deployment {d.id}</h1>
      <ErrorNote error={q.error} />
      <dl className="facts">
        <dt>Status</dt><dd data-testid="deployment-status"><span className={`status ${enumLabel(DeploymentStatus, d.status)}`}>{enumLabel(DeploymentStatus, d.status)}</span>{d.lastError && ` · ${d.lastError}`}</dd>
        <dt>Revision</dt><dd data-testid="deployment-revision">{d.revision}</dd>
        <dt>Node</dt><dd>{d.nodeId ? <Link href={`/nodes/${encodeURIComponent(d.nodeId)}`}>{d.nodeId}</Link> : "-"}</dd>
        <dt>Env</dt><dd>{d.envKeys.join(", ") || "-"}</dd>
        <dt>Last job</dt><dd>{d.lastJobId ? <Link href={`/jobs/${encodeURIComponent(d.lastJobId)}`}>{d.lastJobId}</Link> : "-"}</dd>
        <dt>Updated</dt><dd>{when(d.updateTime)}</dd>
      </dl>
      {isAdmin && (
        <div className="actions">
          <ActionButton danger confirm={`Delete deployment ${d.id}? Its containers are stopped.`} run={() => api.deployments.deleteDeployment({ deploymentId: d.id })} onDone={() => navigate("/deployments")}>
            Delete deployment
          </ActionButton>
        </div>
      )}
      <h2>Revisions</h2>
      <DataTable label="Revisions" rows={revisions} columns={columns} rowId={(r) => String(r.revision)} />
      <h2>Compose file</h2>
      <pre className="logs" tabIndex={0} aria-label="Compose file">{d.renderedCompose}</pre>
    </section>
  );
}
