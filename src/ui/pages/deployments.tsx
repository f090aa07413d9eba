import { createColumnHelper } from "@tanstack/react-table";
import { useId, useState } from "react";
import { Link, useLocation } from "wouter";
import { DeploymentStatus, type Deployment } from "../../../gen/proto/capstan/v1/deployment_pb.js";
import { enumLabel, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const col = createColumnHelper<Deployment>();
const columns = [
  col.accessor("id", { header: "Name", cell: (c) => <Link href={`/deployments/${encodeURIComponent(c.getValue())}`}>{c.getValue()}</Link> }),
  col.accessor((d) => enumLabel(DeploymentStatus, d.status), { id: "status", header: "Status", cell: (c) => <span className={`status ${c.getValue()}`}>{c.getValue()}</span> }),
  col.accessor("revision", { header: "Revision" }),
  col.accessor("nodeId", { header: "Node" }),
  col.accessor((d) => d.updateTime?.seconds ?? 0n, { id: "updated", header: "Updated", cell: (c) => when(c.row.original.updateTime) }),
];

/** Every compose deployment, and a form to create one from a compose file. */
export function Deployments() {
  const { api, canWrite } = useSession();
  const q = useLiveQuery(() => api.deployments.listDeployments({ pageSize: 500 }).then((r) => r.deployments), ["deployments"]);
  return (
    <section>
      <h1>Deployments</h1>
      <ErrorNote error={q.error} />
      {q.data ? <DataTable label="Deployments" rows={q.data} columns={columns} rowId={(d) => d.id} searchable empty="No deployment yet." /> : !q.error && <Loading />}
      {canWrite && <CreateDeployment />}
    </section>
  );
}

/** Create (or update) a deployment from a compose file, pasted or uploaded. */
function CreateDeployment() {
  const { api } = useSession();
  const [, navigate] = useLocation();
  const [name, setName] = useState("");
  const [node, setNode] = useState("");
  const [compose, setCompose] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <form
      className="panel"
      aria-labelledby={`${id}-h`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          const res = await api.deployments.createDeployment({ deploymentId: name.trim(), projectName: name.trim(), nodeId: node.trim(), renderedCompose: compose });
          navigate(`/deployments/${encodeURIComponent(res.deploymentId)}`);
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id={`${id}-h`}>Deploy a compose file</h2>
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} />
      <label htmlFor={`${id}-node`}>Node (empty: the scheduler picks)</label>
      <input id={`${id}-node`} value={node} onChange={(e) => setNode(e.target.value)} />
      <label htmlFor={`${id}-compose`}>Compose file</label>
      <textarea id={`${id}-compose`} rows={8} value={compose} onChange={(e) => setCompose(e.target.value)} spellCheck={false} />
      <label>
        Or upload it <input type="file" accept=".yaml,.yml" onChange={async (e) => setCompose((await e.target.files?.[0]?.text()) ?? compose)} />
      </label>
      <div className="row">
        <button type="submit" disabled={busy} data-mutating="true">Deploy</button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
