import { createColumnHelper } from "@tanstack/react-table";
import { useState } from "react";
import { Link } from "wouter";
import { NodeEligibility, NodeStatus, type Node } from "../../../gen/proto/capstan/v1/node_pb.js";
import { ago, enumLabel, pairs, percent } from "../format.js";
import { useLiveNodes, useTick } from "../nodes-state.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const col = createColumnHelper<Node>();

/** Every node, live: status, last heartbeat, CPU and memory, labels, tags, agent, draining. */
export function Nodes() {
  const { api } = useSession();
  const { nodes, error } = useLiveNodes(api);
  const now = useTick();
  const [status, setStatus] = useState("all");
  if (!nodes) return error ? <ErrorNote error={error} /> : <Loading />;
  const columns = [
    col.accessor("name", { header: "Name", cell: (c) => <Link href={`/nodes/${encodeURIComponent(c.row.original.id)}`}>{c.getValue() || c.row.original.id}</Link> }),
    col.accessor((n) => enumLabel(NodeStatus, n.status), { id: "status", header: "Status", cell: (c) => <span className={`status ${c.getValue()}`}>{c.getValue()}</span> }),
    col.accessor((n) => (n.connected ? "yes" : "no"), { id: "connected", header: "Agent" }),
    col.accessor((n) => n.lastHeartbeat?.seconds ?? 0n, { id: "heartbeat", header: "Last heartbeat", cell: (c) => ago(c.row.original.lastHeartbeat, now) }),
    col.accessor((n) => n.metrics?.cpuUsage ?? 0, { id: "cpu", header: "CPU", cell: (c) => percent(c.getValue()) }),
    col.accessor((n) => n.metrics?.memUsage ?? 0, { id: "mem", header: "Memory", cell: (c) => percent(c.getValue()) }),
    col.accessor((n) => pairs(n.labels), { id: "labels", header: "Labels" }),
    col.accessor((n) => n.tags.join(", "), { id: "tags", header: "Tags" }),
    col.accessor("agentVersion", { header: "Agent version" }),
    col.accessor((n) => [n.draining ? "draining" : "", n.eligibility === NodeEligibility.INELIGIBLE ? "ineligible" : ""].filter(Boolean).join(", ") || "-", {
      id: "scheduling",
      header: "Scheduling",
    }),
  ];
  const shown = status === "all" ? nodes : nodes.filter((n) => enumLabel(NodeStatus, n.status) === status);
  return (
    <section>
      <h1>Nodes</h1>
      <ErrorNote error={error} />
      <div className="filters">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="all">all</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
          </select>
        </label>
      </div>
      <DataTable label="Nodes" rows={shown} columns={columns} rowId={(n) => n.id} searchable empty="No node has registered yet." />
    </section>
  );
}
