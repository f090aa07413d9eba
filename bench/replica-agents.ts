/**
 * Simulated agents for bench:replicas: gRPC AgentStream sessions spread over
 * several replicas (round robin), each heartbeating on its stream every 5 s
 * and answering every command COMPLETED at once. Every command received is
 * recorded (job id → agent, time), so the bench can tell a lost job (never
 * delivered) and a duplicate (delivered twice) from the agents' own record.
 */
import { create } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../gen/proto/capstan/v1/agent_service_pb.js";
import { JobStatus } from "../gen/proto/capstan/v1/job_pb.js";
import { AsyncQueue } from "../src/shared/async-queue.js";

/** One simulated agent. */
export interface SimAgent {
  readonly replica: number;
  nodeId: string;
  outbox: AsyncQueue<AgentStreamRequest>;
}

/** The agents, and what they received. */
export interface SimFleet {
  agents: SimAgent[];
  /** Deliveries per job id: the agent and when each arrived (performance.now()). */
  received: Map<string, Array<{ nodeId: string; at: number }>>;
  /** Streams refused before their welcome (each tried again), with the error. */
  failures: string[];
  /** Streams that ended after their welcome (not reopened: a killed replica's agents stay gone), with the error. */
  broken: string[];
  /** Resolves when the job's first command arrives. */
  arrival(jobId: string): Promise<number>;
  stop(): void;
}

const HEARTBEAT_MS = 5000;

/**
 * Every agent heartbeats on its stream once per `intervalMs`, spread evenly
 * over the interval (a batch every 50 ms). Returns what stops it.
 */
export function heartbeatLoop(agents: ReadonlyArray<{ outbox: AsyncQueue<AgentStreamRequest> }>, intervalMs: number): () => void {
  let next = 0;
  const perTick = Math.max(1, Math.ceil(agents.length / (intervalMs / 50)));
  const timer = setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      const a = agents[next++ % agents.length];
      a.outbox.push(create(AgentStreamRequestSchema, { message: { case: "heartbeat", value: { metrics: { cpuUsage: 10, memUsage: 20 } } } }));
    }
  }, 50);
  return () => clearInterval(timer);
}

/** Opens `count` agent streams spread over `urls` (`sessions` HTTP/2 connections each); resolves when all are welcomed. */
export async function connectFleet(urls: string[], count: number, sessions = 4, prefix = "sim"): Promise<SimFleet> {
  const transports: Transport[][] = urls.map((baseUrl) => Array.from({ length: sessions }, () => createGrpcTransport({ baseUrl })));
  const agents: SimAgent[] = [];
  const received = new Map<string, Array<{ nodeId: string; at: number }>>();
  const waiters = new Map<string, (at: number) => void>();
  const failures: string[] = [];
  const broken: string[] = [];
  let welcomed = 0;
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < count; i++) {
      const replica = i % urls.length;
      const agent: SimAgent = { replica, nodeId: "", outbox: new AsyncQueue<AgentStreamRequest>() };
      agents.push(agent);
      const client = createClient(AgentService, transports[replica][i % sessions]);
      const open = (attempt: number): void => {
        agent.outbox = new AsyncQueue<AgentStreamRequest>();
        agent.outbox.push(
          create(AgentStreamRequestSchema, {
            message: { case: "hello", value: { name: `${prefix}-${i}`, address: "10.0.0.1", capabilities: { docker: { available: true, version: "27.0.0" } }, tags: ["docker"] } },
          }),
        );
        const outbox = agent.outbox;
        void (async () => {
          for await (const res of client.agentStream(outbox)) {
            if (res.message.case === "welcome") {
              agent.nodeId = res.message.value.nodeId;
              if (++welcomed === count) resolve();
            } else if (res.message.case === "command") {
              const at = performance.now();
              const jobId = res.message.value.jobId;
              const list = received.get(jobId) ?? [];
              list.push({ nodeId: agent.nodeId, at });
              received.set(jobId, list);
              waiters.get(jobId)?.(at);
              outbox.push(create(AgentStreamRequestSchema, { message: { case: "commandUpdate", value: { jobId, status: JobStatus.COMPLETED, exitCode: 0 } } }));
            }
          }
        })().catch((err: unknown) => {
          // A stream that breaks after the welcome (its replica was killed) is part of the run. Before it, the agent
          // tries again after a pause, as capstan-agent does; the failures are counted and printed.
          if (agent.nodeId) {
            broken.push(`${agent.nodeId}: ${String((err as Error).message)}`);
            return;
          }
          failures.push(String((err as Error).message));
          if (attempt >= 10) reject(err as Error);
          else setTimeout(() => open(attempt + 1), 500 + Math.random() * 1000);
        });
      };
      open(0);
    }
  });
  const stopHeartbeats = heartbeatLoop(agents, HEARTBEAT_MS);
  return {
    agents,
    received,
    failures,
    broken,
    arrival: (jobId) =>
      new Promise((resolve) => {
        const got = received.get(jobId)?.[0];
        if (got) resolve(got.at);
        else waiters.set(jobId, resolve);
      }),
    stop() {
      stopHeartbeats();
      for (const a of agents) a.outbox.end();
    },
  };
}
