import { Link } from "wouter";
import { JobStatus } from "../../../gen/proto/capstan/v1/job_pb.js";
import { NodeStatus } from "../../../gen/proto/capstan/v1/node_pb.js";
import { useLiveQuery } from "../live.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

/** The fleet at a glance: nodes by status, agents, services, failed jobs, chunk replication. */
export function Overview() {
  const { api } = useSession();
  const q = useLiveQuery(
    async () => {
      const [nodes, services, failed, chunks] = await Promise.all([
        api.nodes.listNodes({ pageSize: 1000 }),
        api.deployments.listServices({ pageSize: 1000 }),
        api.deployments.listJobs({ status: JobStatus.FAILED, pageSize: 100 }),
        api.chunks.getClusterMetrics({}),
      ]);
      return { nodes: nodes.nodes, agents: nodes.nodes.filter((n) => n.connected).length, services: services.items, failed: failed.jobs, chunks };
    },
    ["nodes", "services", "replicas", "jobs", "chunk_commands"],
  );
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading />;
  const { nodes, agents, services, failed, chunks } = q.data;
  const online = nodes.filter((n) => n.status === NodeStatus.ONLINE).length;
  const healthy = services.filter((s) => s.replicaSet.filter((r) => r.status === "running").length >= s.replicas).length;
  return (
    <section>
      <h1>Overview</h1>
      <ErrorNote error={q.error} />
      <div className="cards">
        <Card title="Nodes" to="/nodes" value={`${online} online`} detail={`${nodes.length - online} offline, ${nodes.filter((n) => n.draining).length} draining`} />
        <Card title="Agents" to="/nodes" value={`${agents} connected`} detail={`of ${nodes.length} nodes`} />
        <Card title="Services" to="/services" value={`${healthy}/${services.length} healthy`} detail={`${services.length - healthy} below desired replicas`} />
        <Card title="Failed jobs" to="/jobs" value={String(failed.length)} detail={failed.length === 100 ? "the last 100 shown" : "jobs that failed"} />
        <Card
          title="Chunks"
          to="/chunks"
          value={`${chunks.totalChunks} chunks`}
          detail={`${chunks.underReplicated} under-replicated, ${chunks.pendingCommands} commands pending`}
        />
      </div>
    </section>
  );
}

function Card({ title, value, detail, to }: { title: string; value: string; detail: string; to: string }) {
  return (
    <Link href={to} className="card">
      <h2>{title}</h2>
      <p className="big">{value}</p>
      <p>{detail}</p>
    </Link>
  );
}
