import { createColumnHelper } from "@tanstack/react-table";
import type { AuditEvent } from "../../../gen/proto/capstan/v1/audit_service_pb.js";
import { when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const col = createColumnHelper<AuditEvent>();
const columns = [
  col.accessor((e) => e.time?.seconds ?? 0n, { id: "time", header: "Time", cell: (c) => when(c.row.original.time) }),
  col.accessor("actor", { header: "Actor" }),
  col.accessor("rpc", { header: "Call" }),
  col.accessor("target", { header: "Target" }),
  col.accessor("outcome", { header: "Outcome" }),
  col.accessor("message", { header: "Message" }),
  col.accessor("peer", { header: "From" }),
];

/** The audit trail (admin): who changed what, from where, and how it went. */
export function Audit() {
  const { api } = useSession();
  const q = useLiveQuery(() => api.audit.listAuditEvents({ pageSize: 200 }).then((r) => r.events), ["tokens", "services", "deployments", "nodes"]);
  return (
    <section>
      <h1>Audit trail</h1>
      <ErrorNote error={q.error} />
      {q.data ? <DataTable label="Audit events" rows={q.data} columns={columns} rowId={(e) => e.id} searchable empty="Nothing audited yet." /> : !q.error && <Loading />}
    </section>
  );
}
