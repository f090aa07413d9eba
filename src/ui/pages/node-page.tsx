import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Link } from "wouter";
import { DeploymentStatus } from "../../../gen/proto/capstan/v1/deployment_pb.js";
import { NodeEligibility, NodeStatus } from "../../../gen/proto/capstan/v1/node_pb.js";
import { ago, enumLabel, pairs, percent, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { useTick } from "../nodes-state.js";
import { ActionButton } from "../parts/action-button.js";
import { MetricsChart } from "../parts/metrics-chart.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

/** The last this many minutes of heartbeat metrics are charted (the server keeps 10 by default: HEARTBEAT_HISTORY). */
const CHART_MINUTES = 10;

/** One node: its facts, a chart of its recent metrics, its replicas and deployments, drain and eligibility. */
export function NodePage({ id }: { id: string }) {
  const { api, isAdmin } = useSession();
  const now = useTick();
  const q = useLiveQuery(
    async () => {
      const since = timestampFromMs(Date.now() - CHART_MINUTES * 60_000);
      const [node, history, services, deployments] = await Promise.all([
        api.nodes.getNode({ nodeId: id }),
        api.nodes.getNodeMetricsHistory({ nodeId: id, since }),
        api.deployments.listServices({ pageSize: 1000 }),
        api.deployments.listDeployments({ nodeId: id, pageSize: 200 }),
      ]);
      const replicas = services.items.flatMap((s) => s.replicaSet.filter((r) => r.nodeId === id));
      return { node: node.node!, samples: history.samples, replicas, deployments: deployments.deployments };
    },
    ["nodes", "replicas", "deployments"],
    [id],
  );
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading />;
  const { node, samples, replicas, deployments } = q.data;
  const ineligible = node.eligibility === NodeEligibility.INELIGIBLE;
  return (
    <section>
      <h1>Node {node.name || node.id}</h1>
      <ErrorNote error={q.error} />
      <dl className="facts">
        <dt>ID</dt><dd>{node.id}</dd>
        <dt>Status</dt><dd data-testid="node-status"><span className={`status ${enumLabel(NodeStatus, node.status)}`}>{enumLabel(NodeStatus, node.status)}</span></dd>
        <dt>Agent</dt><dd>{node.connected ? "connected" : "not connected"} {node.agentVersion}</dd>
        <dt>Address</dt><dd>{node.address || "-"}</dd>
        <dt>Last heartbeat</dt><dd>{ago(node.lastHeartbeat, now)}</dd>
        <dt>CPU / memory</dt><dd>{percent(node.metrics?.cpuUsage ?? 0)} / {percent(node.metrics?.memUsage ?? 0)}</dd>
        <dt>Capacity</dt><dd>{node.capabilities?.cpuCount ? `${node.capabilities.cpuCount} CPUs, ${node.capabilities.memMb} MB, ${node.capabilities.os}/${node.capabilities.arch}` : "-"}</dd>
        <dt>Labels</dt><dd>{pairs(node.labels) || "-"}</dd>
        <dt>Tags</dt><dd>{node.tags.join(", ") || "-"}</dd>
        <dt>Scheduling</dt><dd data-testid="node-scheduling">{[node.draining ? "draining" : "", ineligible ? "ineligible" : "eligible"].filter(Boolean).join(", ")}</dd>
      </dl>
      {isAdmin && (
        <div className="actions">
          <ActionButton run={() => api.nodes.drainNode({ nodeId: id, cancel: node.draining })} onDone={q.reload}>
            {node.draining ? "Stop draining" : "Drain"}
          </ActionButton>
          <ActionButton
            run={() => api.nodes.setNodeEligibility({ nodeId: id, eligibility: ineligible ? NodeEligibility.ELIGIBLE : NodeEligibility.INELIGIBLE })}
            onDone={q.reload}
          >
            {ineligible ? "Make eligible" : "Make ineligible"}
          </ActionButton>
        </div>
      )}
      <h2>Metrics, last {CHART_MINUTES} minutes</h2>
      {samples.length === 0 ? <p>No heartbeat metrics yet.</p> : <MetricsChart samples={samples} minutes={CHART_MINUTES} />}
      <h2>Replicas</h2>
      {replicas.length === 0 ? (
        <p>No replica runs here.</p>
      ) : (
        <ul className="plain">
          {replicas.map((r) => (
            <li key={r.id} data-replica={r.id}>
              <Link href={`/services/${encodeURIComponent(r.serviceName)}`}>{r.serviceName}</Link> · {r.id} · {r.status}
            </li>
          ))}
        </ul>
      )}
      <h2>Deployments</h2>
      {deployments.length === 0 ? (
        <p>No deployment here.</p>
      ) : (
        <ul className="plain">
          {deployments.map((d) => (
            <li key={d.id}>
              <Link href={`/deployments/${encodeURIComponent(d.id)}`}>{d.id}</Link> · revision {d.revision} · {enumLabel(DeploymentStatus, d.status)} · {when(d.updateTime)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
