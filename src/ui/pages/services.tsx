import { createColumnHelper } from "@tanstack/react-table";
import { Link } from "wouter";
import type { Service } from "../../../gen/proto/capstan/v1/service_pb.js";
import { useLiveQuery } from "../live.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";
import { ApplyForm } from "./apply-form.js";

const col = createColumnHelper<Service>();

/** Every service: desired and running replicas, where they run; apply a document. */
export function Services() {
  const { api, canWrite } = useSession();
  const q = useLiveQuery(
    async () => {
      const [services, nodes] = await Promise.all([api.deployments.listServices({ pageSize: 1000 }), api.nodes.listNodes({ pageSize: 1000 })]);
      const names = new Map(nodes.nodes.map((n) => [n.id, n.name || n.id]));
      return { services: services.items, names };
    },
    ["services", "replicas"],
  );
  const names = q.data?.names ?? new Map<string, string>();
  const columns = [
    col.accessor("name", { header: "Name", cell: (c) => <Link href={`/services/${encodeURIComponent(c.getValue())}`}>{c.getValue()}</Link> }),
    col.accessor("status", { header: "Status", cell: (c) => <span className={`status ${c.getValue()}`}>{c.getValue() || "-"}</span> }),
    col.accessor((s) => `${s.replicaSet.filter((r) => r.status === "running").length}/${s.replicas}`, { id: "replicas", header: "Running/desired" }),
    col.accessor((s) => [...new Set(s.replicaSet.map((r) => names.get(r.nodeId) ?? r.nodeId).filter(Boolean))].join(", ") || "-", { id: "nodes", header: "Runs on" }),
    col.accessor((s) => s.command || s.image || s.entry, { id: "what", header: "Command or image" }),
  ];
  return (
    <section>
      <h1>Services</h1>
      {q.data ? <DataTable label="Services" rows={q.data.services} columns={columns} rowId={(s) => s.name} searchable empty="No service yet." /> : q.error ? null : <Loading />}
      <ErrorNote error={q.error} />
      {canWrite && <ApplyForm onApplied={q.reload} />}
    </section>
  );
}
