import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService, AgentStreamRequestSchema } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { recordingDocker } from "../support/recording-docker.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const JOIN = "join-token-0123456789abcdef";
const ADMIN = "admin-token-0123456789abcdef";

describe("capstan-agent against the real server", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-agents-"));
  const stateDir = join(dir, "agent-state");
  const docker = recordingDocker();
  let server: TestServer;
  let agent: AgentProcess;
  let port = 0;
  let nodeId = "";
  const env = () => ({
    DATABASE_URL: `file:${join(dir, "c.db")}`,
    CAPSTAN_JOIN_TOKEN: JOIN,
    // Not dev mode: token-less calls must be refused here, so operator calls carry an admin token.
    CAPSTAN_DEV: "0",
    CAPSTAN_ADMIN_TOKEN: ADMIN,
    HEARTBEAT_TTL: "1500ms",
    RECONCILE_INTERVAL: "300ms",
    ...(port ? { PORT: String(port) } : {}),
  });
  const nodes = () => createClient(NodeService, server.withToken(ADMIN).grpc);
  const deployments = () => createClient(DeploymentService, server.withToken(ADMIN).grpc);

  beforeAll(async () => {
    server = await startTestServer(env());
    port = server.app.port;
    agent = startAgent(["--server", server.url, "--join-token", JOIN, "--state-dir", stateDir, "--workdir", dir, "--name", "agent-one", "--label", "zone=a", "--max-backoff", "1000"], {
      PATH: `${docker.dir}:${process.env.PATH}`,
    });
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  it("connects on a host whose docker prints more than a version, sending only what the contract accepts", async () => {
    // A docker shim that prints a warning banner and a long, multi-line version string.
    const chatty = recordingDocker({ versionOutput: `WARNING: this is not Docker, emulating its CLI with another engine ${"x".repeat(80)}\n|` });
    const other = startAgent(["--server", server.url, "--join-token", JOIN, "--state-dir", join(dir, "chatty-state"), "--workdir", dir, "--name", "agent-chatty"], {
      PATH: `${chatty.dir}:${process.env.PATH}`,
    });
    try {
      const node = await eventually(async () => (await nodes().listNodes({})).nodes.find((n) => n.name === "agent-chatty" && n.connected), 50_000, "chatty agent connected").catch((err: Error) => {
        throw new Error(`${err.message}; agent said: ${other.output().slice(-2000)}`);
      });
      expect(node.capabilities?.docker?.version, other.output()).toBe("");
      expect(other.output()).toMatch(/docker reported a version the contract does not accept/);
      expect(other.output()).not.toMatch(/InvalidArgument|invalid_argument/);
    } finally {
      await other.stop();
    }
  });

  it("registers with the join token, keeps its node token private, and stays online", async () => {
    const node = await eventually(async () => (await nodes().listNodes({})).nodes.find((n) => n.name === "agent-one" && n.connected), 20_000, "agent connected");
    nodeId = node.id;
    expect(node.labels).toEqual({ zone: "a" });
    expect(node.capabilities?.docker?.available).toBe(true);
    // The server counts the agent connected once it sends the welcome; the agent stores the token it carries just after.
    const identity = await eventually(
      () => (existsSync(join(stateDir, "identity.json")) ? (JSON.parse(readFileSync(join(stateDir, "identity.json"), "utf8")) as { nodeId: string; nodeToken: string }) : undefined),
      10_000,
      "identity.json written",
    );
    expect(identity.nodeId).toBe(nodeId);
    expect(statSync(join(stateDir, "identity.json")).mode & 0o777).toBe(0o600);
    expect(server.logs.join("\n")).not.toContain(identity.nodeToken);
    expect(agent.output()).not.toContain(identity.nodeToken);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await nodes().getNode({ nodeId })).node?.status).toBe(1);
  });

  it("runs a process replica and streams its logs through WatchJob", async () => {
    await deployments().apply({ spec: { services: [{ name: "hello", command: "echo hello from capstan; sleep 30", replicas: 1 }] } });
    const job = await eventually(async () => (await deployments().listJobs({ nodeId })).jobs.find((j) => j.serviceName === "hello" && j.status === JobStatus.IN_PROGRESS), 15_000, "launch job running");
    const lines: string[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      for await (const ev of deployments().watchJob({ jobId: job.id }, { signal: abort.signal })) {
        lines.push(...ev.lines.map((l) => l.text));
        if (ev.job?.status === JobStatus.COMPLETED || ev.job?.status === JobStatus.FAILED) return ev.job;
      }
      return undefined;
    })().catch(() => undefined);
    await eventually(async () => (await deployments().getJob({ jobId: job.id })).job?.logs.includes("hello from capstan"), 10_000, "log line stored");
    await deployments().deleteService({ serviceName: "hello" });
    const final = await watching;
    expect(final?.status).toBe(JobStatus.COMPLETED);
    expect((await deployments().getJob({ jobId: job.id })).job?.logs).toContain("hello from capstan");
    abort.abort();
  });

  it("drives docker compose with the exact commands, for deploy, status and stop", async () => {
    const compose = "services:\n  web:\n    image: nginx:1.27\n";
    const res = await deployments().createDeployment({ deploymentId: "web-prod", renderedCompose: compose, env: { DB_PASSWORD: "s3cr3t-value" }, nodeId });
    const job = await eventually(async () => {
      const j = (await deployments().getJob({ jobId: res.jobId })).job;
      return j?.status === JobStatus.COMPLETED ? j : undefined;
    }, 15_000, "deploy completed");
    const file = join(stateDir, "projects", "web-prod", "compose.yaml");
    expect(readFileSync(file, "utf8")).toBe(compose);
    expect(docker.calls()).toContainEqual(["compose", "-p", "web-prod", "-f", file, "up", "-d", "--remove-orphans"]);
    expect(JSON.stringify(job.command, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("s3cr3t-value");
    expect(server.logs.join("\n")).not.toContain("s3cr3t-value");
    const status = await deployments().getProjectStatus({ projectName: "web-prod" });
    expect(status.status).toBe("completed");
    expect(docker.calls()).toContainEqual(["compose", "-p", "web-prod", "-f", file, "ps", "--format", "json"]);
    const stop = await deployments().stopProject({ projectName: "web-prod" });
    await eventually(async () => (await deployments().getJob({ jobId: stop.jobId })).job?.status === JobStatus.COMPLETED, 15_000, "stop completed");
    expect(docker.calls()).toContainEqual(["compose", "-p", "web-prod", "-f", file, "down"]);
  });

  it("reconnects after a server restart and receives commands queued while it was away", async () => {
    await server.stop();
    server = await startTestServer(env());
    const queued = await deployments().createDeployment({ deploymentId: "after-restart", renderedCompose: "services:\n  api:\n    image: busybox\n", nodeId });
    expect(queued.jobId).not.toBe("");
    await eventually(async () => (await deployments().getJob({ jobId: queued.jobId })).job?.status === JobStatus.COMPLETED, 30_000, "queued job delivered after reconnect");
    expect((await deployments().getDeployment({ deploymentId: "web-prod" })).deployment?.projectName).toBe("web-prod");
  });

  it("rejects a wrong join token, and one node's token speaking for another", async () => {
    const client = createClient(AgentService, server.grpc);
    const hello = (value: Record<string, unknown>) => {
      const q = new AsyncQueue<ReturnType<typeof create<typeof AgentStreamRequestSchema>>>();
      q.push(create(AgentStreamRequestSchema, { message: { case: "hello", value: { name: "intruder", ...value } } }));
      return q;
    };
    const first = async (q: AsyncQueue<never>) => {
      try {
        for await (const _ of client.agentStream(q)) return undefined;
      } catch (err) {
        return ConnectError.from(err);
      }
      return undefined;
    };
    expect((await first(hello({ joinToken: "wrong-token-000000000" }) as never))?.code).toBe(Code.Unauthenticated);
    const other = await createClient(NodeService, server.grpc).registerNode({ name: "other" }, { headers: { authorization: `Bearer ${JOIN}` } });
    const identity = JSON.parse(readFileSync(join(stateDir, "identity.json"), "utf8")) as { nodeToken: string };
    expect((await first(hello({ nodeId: other.nodeId, nodeToken: identity.nodeToken }) as never))?.code).toBe(Code.PermissionDenied);
    const tokenless = createClient(NodeService, server.grpc);
    await expect(tokenless.heartbeat({ nodeId: other.nodeId }, { headers: { authorization: `Bearer ${identity.nodeToken}` } })).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(tokenless.heartbeat({ nodeId: other.nodeId })).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(tokenless.registerNode({ name: "sneaky" })).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});
