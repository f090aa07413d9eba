import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { AgentService, AgentStreamRequestSchema, type AgentStreamRequest } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { AsyncQueue } from "../shared/async-queue.js";
import type { Executor } from "./executor.js";
import { CpuSampler, sampleMetrics, type HostFacts } from "./host-facts.js";
import { readIdentity, writeIdentity, type AgentIdentity } from "./state-file.js";

/** How the agent connects. */
export interface ConnectionOptions {
  /** The control plane's URLs (its replicas, or a load balancer): one at a time, the next when one is gone. */
  servers: readonly string[];
  joinToken: string;
  stateDir: string;
  name: string;
  labels: Record<string, string>;
  tags: string[];
  version: string;
  facts: HostFacts;
  /** PEM of a CA to trust for https:// servers. */
  ca?: Buffer;
  /** PEM client certificate and key, for servers that require mutual TLS. */
  clientCert?: { cert: Buffer; key: Buffer };
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Keeps one AgentStream open to the control plane: hello (with the saved node
 * token, or the join token the first time), heartbeats at the interval the
 * server names, commands handed to the executor, and job reports sent back.
 * A broken stream is reopened on the next server URL (several replicas), with
 * exponential backoff and full jitter once a whole round of them failed, so a
 * fleet does not reconnect in lockstep after a control-plane restart. Jobs a
 * replica redelivers after a move are run once: the executor dedupes by job id.
 */
export class AgentConnection {
  private stopped = false;
  private current: AsyncQueue<AgentStreamRequest> | undefined;
  private readonly cpu = new CpuSampler();
  private readonly transports: Array<ReturnType<typeof createGrpcTransport>>;
  /** The server URL in use (or next to try). */
  private index = 0;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly executor: Executor,
    private readonly logger: Logger,
  ) {
    if (options.servers.length === 0) throw new Error("no control plane URL");
    this.transports = options.servers.map((baseUrl) =>
      createGrpcTransport({
        baseUrl,
        nodeOptions: options.ca || options.clientCert ? { ca: options.ca, ...options.clientCert } : undefined,
        pingIntervalMs: 15_000,
      }),
    );
  }

  /** The server URL in use now. */
  get server(): string {
    return this.options.servers[this.index];
  }

  /** Sends a job report on the open stream; dropped (and re-sent on redelivery) when none is open. */
  send(message: AgentStreamRequest["message"]): void {
    this.current?.push(create(AgentStreamRequestSchema, { message }));
  }

  /** Connects and reconnects until stop() is called. */
  async run(): Promise<void> {
    const min = this.options.minBackoffMs ?? 1000;
    const max = this.options.maxBackoffMs ?? 120_000;
    let failures = 0;
    while (!this.stopped) {
      const started = Date.now();
      try {
        await this.session();
      } catch (err) {
        if (this.stopped) break;
        const ce = ConnectError.from(err);
        this.logger.warn({ server: this.server, code: Code[ce.code], error: ce.rawMessage }, "agent stream ended");
        if (ce.code === Code.Unauthenticated && (await this.forgetRejectedToken())) continue;
      }
      if (this.stopped) break;
      // The replica may be gone: the next URL. Backoff grows per whole round of URLs that failed.
      const n = this.options.servers.length;
      this.index = (this.index + 1) % n;
      failures = Date.now() - started > 30_000 ? 1 : failures + 1;
      const round = Math.ceil(failures / n);
      const delay = Math.random() * Math.min(max, min * 2 ** (round - 1));
      this.logger.info({ delayMs: Math.round(delay), server: this.server }, "reconnecting");
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Ends the stream and the loop. */
  stop(): void {
    this.stopped = true;
    this.current?.end();
  }

  private async session(): Promise<void> {
    const identity = await readIdentity(this.options.stateDir);
    const outbox = new AsyncQueue<AgentStreamRequest>();
    this.current = outbox;
    const o = this.options;
    outbox.push(
      create(AgentStreamRequestSchema, {
        message: {
          case: "hello",
          value: {
            nodeId: identity?.nodeId ?? "",
            nodeToken: identity?.nodeToken ?? "",
            joinToken: identity?.nodeToken ? "" : o.joinToken,
            name: o.name,
            address: o.facts.address,
            agentVersion: o.version,
            capabilities: {
              os: o.facts.os,
              arch: o.facts.arch,
              cpuCount: o.facts.cpuCount,
              memMb: o.facts.memMb,
              diskMb: o.facts.diskMb,
              docker: { available: o.facts.dockerAvailable, version: o.facts.dockerVersion },
            },
            labels: o.labels,
            tags: o.tags,
          },
        },
      }),
    );
    const client = createClient(AgentService, this.transports[this.index]);
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      for await (const res of client.agentStream(outbox)) {
        const m = res.message;
        if (m.case === "welcome") {
          await this.welcomed(m.value.nodeId, m.value.nodeToken, identity);
          const ms = Number(m.value.heartbeatInterval?.seconds ?? 5n) * 1000 + (m.value.heartbeatInterval?.nanos ?? 0) / 1e6;
          clearInterval(heartbeat);
          heartbeat = setInterval(() => void this.beat(outbox), Math.max(100, ms));
          await this.beat(outbox);
        } else if (m.case === "command") {
          this.executor.handle(m.value);
        } else if (m.case === "cancel") {
          this.executor.cancel(m.value.jobId);
        }
      }
    } finally {
      clearInterval(heartbeat);
      outbox.end();
      if (this.current === outbox) this.current = undefined;
    }
  }

  private async welcomed(nodeId: string, newToken: string, saved: AgentIdentity | undefined): Promise<void> {
    if (newToken !== "") {
      await writeIdentity(this.options.stateDir, { nodeId, nodeToken: newToken, server: this.server });
    }
    this.logger.info({ nodeId, server: this.server, registered: newToken !== "", resumed: Boolean(saved) }, "connected to control plane");
  }

  private async beat(outbox: AsyncQueue<AgentStreamRequest>): Promise<void> {
    const metrics = { ...(await sampleMetrics(this.options.stateDir, this.cpu, this.executor.running())), replicaUsage: await this.executor.replicaUsage() };
    outbox.push(create(AgentStreamRequestSchema, { message: { case: "heartbeat", value: { metrics } } }));
  }

  /** After the server rejected the saved token: register afresh when a join token is at hand. */
  private async forgetRejectedToken(): Promise<boolean> {
    const identity = await readIdentity(this.options.stateDir);
    if (!identity || this.options.joinToken === "") return false;
    this.logger.warn({ nodeId: identity.nodeId }, "saved node token rejected; registering again with the join token");
    await writeIdentity(this.options.stateDir, { ...identity, nodeToken: "" });
    return true;
  }
}
