import { createColumnHelper } from "@tanstack/react-table";
import { Link, useLocation } from "wouter";
import type { NodeVerdict } from "../../../gen/proto/capstan/v1/placement_pb.js";
import type { Replica } from "../../../gen/proto/capstan/v1/service_pb.js";
import { pairs, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { ActionButton } from "../parts/action-button.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const rcol = createColumnHelper<Replica>();
const vcol = createColumnHelper<NodeVerdict>();

/** The replicas' columns; node names come from the explanation, which lists every node. */
const replicaColumns = (names: ReadonlyMap<string, string>) => [
  rcol.accessor("id", { header: "Replica" }),
  rcol.accessor("status", { header: "Status", cell: (c) => <span className={`status ${c.getValue()}`}>{c.getValue()}</span> }),
  rcol.accessor("nodeId", { header: "Node", cell: (c) => (c.getValue() ? <Link href={`/nodes/${encodeURIComponent(c.getValue())}`}>{names.get(c.getValue()) || c.getValue()}</Link> : "-") }),
  rcol.accessor("jobId", { header: "Job", cell: (c) => (c.getValue() ? <Link href={`/jobs/${encodeURIComponent(c.getValue())}`}>{c.getValue()}</Link> : "-") }),
  rcol.accessor((r) => when(r.createTime), { id: "created", header: "Created" }),
];

const verdictColumns = [
  vcol.accessor((v) => v.nodeName || v.nodeId, { id: "node", header: "Node", cell: (c) => <Link href={`/nodes/${encodeURIComponent(c.row.original.nodeId)}`}>{c.getValue()}</Link> }),
  vcol.accessor((v) => (v.feasible ? "yes" : "no"), { id: "feasible", header: "Feasible" }),
  vcol.accessor((v) => v.rejectedBy || "-", { id: "filter", header: "Filter" }),
  vcol.accessor((v) => (v.feasible ? v.score.toFixed(3) : "-"), { id: "score", header: "Score" }),
  vcol.accessor((v) => (v.feasible ? Object.entries(v.scoreTerms).map(([k, n]) => `${k} ${n.toFixed(2)}`).join(", ") : v.reason), { id: "why", header: "Reason or score terms" }),
  vcol.accessor((v) => `${v.running}/${v.placed}`, { id: "placed", header: "Running/placed" }),
];

/** One service: its replicas and where they run, each node's placement verdict, delete. */
export function ServicePage({ id }: { id: string }) {
  const { api, isAdmin } = useSession();
  const [, navigate] = useLocation();
  const q = useLiveQuery(
    async () => {
      const [svc, explain] = await Promise.all([api.deployments.getService({ serviceName: id }), api.deployments.explainPlacement({ serviceName: id })]);
      return { service: svc.service!, explain };
    },
    ["services", "replicas", "nodes"],
    [id],
  );
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading />;
  const { service, explain } = q.data;
  const running = service.replicaSet.filter((r) => r.status === "running").length;
  return (
    <section>
      <h1>Service {service.name}</h1>
      <ErrorNote error={q.error} />
      <dl className="facts">
        <dt>Status</dt><dd><span className={`status ${service.status}`}>{service.status || "-"}</span> {service.statusMessage}</dd>
        <dt>Replicas</dt><dd data-testid="service-replicas">{running}/{service.replicas} running</dd>
        <dt>Runs</dt><dd><code>{service.command || service.image || service.entry || "-"}</code></dd>
        <dt>Env</dt><dd>{Object.keys(service.env).join(", ") || "-"}</dd>
        <dt>Labels</dt><dd>{pairs(service.labels) || "-"}</dd>
        <dt>Updated</dt><dd>{when(service.updatedAt)}</dd>
      </dl>
      {isAdmin && (
        <div className="actions">
          <ActionButton danger confirm={`Delete service ${service.name} and stop its replicas?`} run={() => api.deployments.deleteService({ serviceName: service.name })} onDone={() => navigate("/services")}>
            Delete service
          </ActionButton>
        </div>
      )}
      <h2>Replicas</h2>
      <DataTable label="Replicas" rows={service.replicaSet} columns={replicaColumns(new Map(explain.nodes.map((v) => [v.nodeId, v.nodeName])))} rowId={(r) => r.id} empty="No replica yet." />
      <h2>Placement explanation</h2>
      <p>{explain.summary}</p>
      <DataTable label="Placement of each node" rows={explain.nodes} columns={verdictColumns} rowId={(v) => v.nodeId} searchable />
    </section>
  );
}
