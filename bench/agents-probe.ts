/**
 * The measuring side of bench:agents, in a process of its own: the process
 * that simulates 10,000 agents spends its event loop encoding heartbeats and
 * collecting its own garbage, and a round trip timed there includes that
 * process's delays (its bare echo p99 alone exceeded the 20 ms target). Timed
 * from here, a round trip is the server's handling plus the network, for
 * Capstan and for the bare baseline alike. Started by bench/agents.ts with an
 * IPC channel: it receives a ProbeTask and sends back a ProbeResult.
 */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../gen/proto/capstan/v1/agent_service_pb.js";
import { DeploymentService } from "../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../gen/proto/capstan/v1/job_pb.js";
import { NodeService } from "../gen/proto/capstan/v1/node_service_pb.js";
import { AsyncQueue } from "../src/shared/async-queue.js";

/** What to measure, and against which server. */
export interface ProbeTask {
  kind: "capstan" | "bare";
  port: number;
  probes: number;
  /** Capstan: the nodes whose heartbeats are sent (agents connected by the main process). */
  nodeIds: string[];
  /** Capstan: the node the deployments' jobs go to. */
  target: string;
}

/** Latencies in milliseconds. */
export interface ProbeResult {
  /** Capstan: Heartbeat RPC round trips. Bare: heartbeat echoed on a stream. */
  hb: number[];
  /** Capstan: dispatch to COMPLETED, from the job's own timestamps. */
  rt: number[];
  /** Capstan: CreateDeployment until WatchJob shows COMPLETED. */
  api: number[];
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tsMs = (ts: { seconds: bigint; nanos: number } | undefined) => (ts ? Number(ts.seconds) * 1000 + ts.nanos / 1e6 : NaN);

async function probeCapstan(task: ProbeTask): Promise<ProbeResult> {
  const baseUrl = `http://127.0.0.1:${task.port}`;
  const token = process.env.BENCH_ADMIN_TOKEN ?? "";
  const transport = createGrpcTransport({ baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] });
  const probe = createClient(NodeService, transport);
  const deploy = createClient(DeploymentService, transport);
  // As the bare probe does: the connection is made (one call, untimed) and 200 ms pass before
  // timing starts, so that neither figure includes an HTTP/2 handshake.
  await probe.heartbeat({ nodeId: task.nodeIds[0], cpuUsage: 5 });
  await pause(200);
  const hb: number[] = [];
  for (let i = 0; i < task.probes; i++) {
    const t = performance.now();
    await probe.heartbeat({ nodeId: task.nodeIds[i % task.nodeIds.length], cpuUsage: 5 });
    hb.push(performance.now() - t);
    await pause(5);
  }
  const rt: number[] = [];
  const api: number[] = [];
  for (let i = 0; i < Math.min(task.probes, 200); i++) {
    const t = performance.now();
    const res = await deploy.createDeployment({ deploymentId: `bench-${i}`, renderedCompose: "services:\n  a:\n    image: x\n", nodeId: task.target });
    let job;
    for await (const ev of deploy.watchJob({ jobId: res.jobId })) {
      if (ev.job?.status === JobStatus.COMPLETED) {
        job = ev.job;
        break;
      }
    }
    api.push(performance.now() - t);
    rt.push(tsMs(job?.finishTime) - tsMs(job?.dispatchTime));
  }
  return { hb, rt, api };
}

async function probeBare(task: ProbeTask): Promise<ProbeResult> {
  const outbox = new AsyncQueue<AgentStreamRequest>();
  const client = createClient(AgentService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${task.port}` }));
  outbox.push(create(AgentStreamRequestSchema, { message: { case: "hello", value: { name: "probe" } } }));
  let waiting: (() => void) | undefined;
  void (async () => {
    for await (const res of client.agentStream(outbox)) if (res.message.case === "cancel") waiting?.();
  })();
  await pause(200);
  const hb: number[] = [];
  for (let i = 0; i < task.probes; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      waiting = resolve;
      outbox.push(create(AgentStreamRequestSchema, { message: { case: "heartbeat", value: {} } }));
    });
    hb.push(performance.now() - t);
    await pause(5);
  }
  outbox.end();
  return { hb, rt: [], api: [] };
}

process.once("message", (task: ProbeTask) => {
  (task.kind === "capstan" ? probeCapstan(task) : probeBare(task)).then(
    (result) => process.send?.(result, undefined, {}, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
