import { Code, ConnectError } from "@connectrpc/connect";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changesChannel } from "../../src/store/change-log.js";
import { listenerName } from "../../src/store/change-listener.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { DeploymentStatus } from "../../gen/proto/capstan/v1/deployment_pb.js";
import { NodeStatus } from "../../gen/proto/capstan/v1/node_pb.js";
import { EventService } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { follow } from "../support/event-watcher.js";
import { httpRequest } from "../support/http.js";
import { recordingDocker } from "../support/recording-docker.js";
import { asAdmin, postgresForReplicas, startReplicas, withIndex, type ReplicaSet } from "../support/replicas.js";

const COMPOSE = "services:\n  web:\n    image: nginx:1.27\n";

describe.runIf(postgresForReplicas())("three replicas on one PostgreSQL database", () => {
  let set: ReplicaSet;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    // Heartbeats flushed often, so the test of their batches is short (the TTL stays 1 h: nothing goes offline).
    set = await startReplicas(3, { HEARTBEAT_FLUSH_INTERVAL: "300ms" });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await set?.stop();
  });

  it("a node registered through one replica is read through another at the write's index, at once", async () => {
    const { out, index } = await withIndex((onHeader) => set.client(NodeService, 0).registerNode({ name: "n-index", address: "10.0.0.1" }, { headers: asAdmin(set), onHeader }));
    expect(index).toBeGreaterThan(0);
    const nodeId = out.node!.id;
    // No polling: the read waits on replica 1 until its views have applied the write.
    const read = await withIndex((onHeader) => set.client(NodeService, 1).getNode({ nodeId }, { headers: asAdmin(set, { "capstan-min-index": String(index) }), onHeader }));
    expect(read.out.node?.name).toBe("n-index");
    expect(read.index).toBeGreaterThanOrEqual(index);
    // REST, Nomad's spelling: ?index=.
    const rest = await httpRequest(`${set.replicas[2].url}/api/v1/nodes/${nodeId}?index=${index}`, { headers: asAdmin(set) });
    expect(rest.status).toBe(200);
    expect(rest.json.node.name).toBe("n-index");
    expect(Number(rest.headers["capstan-index"])).toBeGreaterThanOrEqual(index);
  });

  it("without an index, reads through every replica converge on a write within a second", async () => {
    const { out } = await withIndex((onHeader) => set.client(NodeService, 2).registerNode({ name: "n-converge" }, { headers: asAdmin(set), onHeader }));
    const answered = Date.now();
    const lags = await Promise.all(
      [0, 1].map(async (i) => {
        // Polled every few milliseconds: the lag is measured, not only bounded.
        for (;;) {
          const found = await set.client(NodeService, i).getNode({ nodeId: out.node!.id }, { headers: asAdmin(set) }).then(() => true, () => false);
          if (found || Date.now() - answered > 10_000) return Date.now() - answered;
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    console.log(`convergence after the registration's answer: ${lags.map((l) => `${l} ms`).join(", ")}`);
    expect(Math.max(...lags)).toBeLessThan(10_000);
  });

  it("a node's heartbeats on one replica reach the others in flushed batches", async () => {
    const reg = await set.client(NodeService, 0).registerNode({ name: "n-beats" }, { headers: asAdmin(set) });
    const nodeId = reg.node!.id;
    await set.client(NodeService, 0).heartbeat({ nodeId, cpuUsage: 42.5 }, { headers: { authorization: `Bearer ${reg.nodeToken}` } });
    const beatAt = Date.now();
    await eventually(async () => (await set.client(NodeService, 1).getNode({ nodeId }, { headers: asAdmin(set) })).node?.metrics?.cpuUsage === 42.5, 10_000, "the heartbeat's metrics on replica 1");
    console.log(`a heartbeat reached another replica ${Date.now() - beatAt} ms later (flush interval 300 ms)`);
  });

  it("a replica whose wake-ups are lost still converges (its listener's session killed)", async () => {
    const schema = new URL(set.db.url).searchParams.get("schema");
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [listenerName(changesChannel(schema ?? undefined))]);
      expect(killed.rowCount).toBe(3);
    } finally {
      await admin.end();
    }
    const reg = await set.client(NodeService, 0).registerNode({ name: "n-no-wakeup" }, { headers: asAdmin(set) });
    await eventually(async () => (await set.client(NodeService, 1).getNode({ nodeId: reg.node!.id }, { headers: asAdmin(set) })).node, 10_000, "node on replica 1");
  });

  it("refuses a Capstan-Min-Index that is not an index, naming it", async () => {
    const err = await set.client(NodeService, 0).listNodes({}, { headers: asAdmin(set, { "capstan-min-index": "soon" }) }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as ConnectError).rawMessage).toMatch(/Capstan-Min-Index/);
  });

  it("a deployment created through one replica completes on an agent connected to another", async () => {
    const docker = recordingDocker();
    const dir = mkdtempSync(join(tmpdir(), "capstan-replicas-"));
    agents.push(startAgent(["--server", set.replicas[1].url, "--state-dir", join(dir, "a"), "--workdir", dir, "--name", "agent-b", "--max-backoff", "1000"], { PATH: `${docker.dir}:${process.env.PATH}` }));
    const node = await eventually(async () => {
      const list = await set.client(NodeService, 0).listNodes({}, { headers: asAdmin(set) });
      return list.nodes.find((n) => n.name === "agent-b" && n.status === NodeStatus.ONLINE);
    }, 20_000, "agent-b registered and seen by replica 0");
    const created = await set.client(DeploymentService, 0).createDeployment({ deploymentId: "cross", renderedCompose: COMPOSE, nodeId: node.id }, { headers: asAdmin(set) });
    await eventually(async () => (await set.client(DeploymentService, 0).getJob({ jobId: created.jobId }, { headers: asAdmin(set) })).job?.status === JobStatus.COMPLETED, 20_000, "deploy job completed, as replica 0 sees it");
    await eventually(async () => (await set.client(DeploymentService, 2).getDeployment({ deploymentId: "cross" }, { headers: asAdmin(set) })).deployment?.status === DeploymentStatus.RUNNING, 10_000, "deployment running, as replica 2 sees it");
    expect(docker.calls().some((argv) => argv.includes("up"))).toBe(true);
  }, 60_000);

  it("watchers on every replica see the same events in the same order, an agent connected to one of them included", async () => {
    const watches = [0, 1, 2].map((i) => follow((signal) => set.client(EventService, i).watchEvents({ topics: ["nodes", "agents"] }, { signal, headers: asAdmin(set) })));
    try {
      const starts = await Promise.all(watches.map((w) => w.until((e) => e.topic === "heartbeat")));
      const dir = mkdtempSync(join(tmpdir(), "capstan-replicas-"));
      const agent = startAgent(["--server", set.replicas[2].url, "--state-dir", join(dir, "o"), "--workdir", dir, "--name", "agent-order", "--max-backoff", "1000"]);
      agents.push(agent);
      await set.client(NodeService, 0).registerNode({ name: "n-order", address: "10.0.0.2" }, { headers: asAdmin(set) });
      const connected = await Promise.all(watches.map((w) => w.until((e) => e.topic === "agents" && e.type === "connected", 30_000)));
      const nodeId = connected[0].key;
      // Written by the replica the agent is connected to.
      expect(connected.map((e) => e.payload.case === "agent" && e.payload.value.replica)).toEqual(["r2", "r2", "r2"]);
      await agent.stop();
      const last = await Promise.all(watches.map((w) => w.until((e) => e.topic === "agents" && e.key === nodeId && e.type === "disconnected", 30_000)));
      expect(new Set(last.map((e) => e.index)).size).toBe(1);
      await Promise.all(watches.map((w) => w.until((e) => e.topic === "nodes" && e.payload.case === "node" && e.payload.value.name === "n-order")));
      // From the latest start to the disconnection, every watcher saw the same events, in the same order.
      const from = starts.reduce((m, e) => (e.index > m ? e.index : m), 0n);
      const seen = watches.map((w) => w.seen.filter((e) => e.topic !== "heartbeat" && e.index > from && e.index <= last[0].index).map((e) => `${e.index} ${e.topic} ${e.type} ${e.key}`));
      expect(seen[0]).toContain(`${connected[0].index} agents connected ${nodeId}`);
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[2]).toEqual(seen[0]);
    } finally {
      for (const w of watches) w.stop();
    }
  }, 90_000);

  it("deleting a node through one replica ends its agent's stream held by another", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-replicas-"));
    const agent = startAgent(["--server", set.replicas[2].url, "--state-dir", join(dir, "c"), "--workdir", dir, "--name", "agent-c", "--max-backoff", "60000"]);
    agents.push(agent);
    const node = await eventually(async () => {
      const list = await set.client(NodeService, 0).listNodes({}, { headers: asAdmin(set) });
      return list.nodes.find((n) => n.name === "agent-c" && n.status === NodeStatus.ONLINE);
    }, 20_000, "agent-c registered and seen by replica 0");
    const closed = () => set.replicas[2].logs.some((line) => line.includes(node.id) && line.includes("node deleted") && line.includes("agent stream closed by server"));
    expect(closed()).toBe(false);
    const deletedAt = Date.now();
    await set.client(NodeService, 0).deleteNode({ nodeId: node.id }, { headers: asAdmin(set) });
    await eventually(() => closed(), 10_000, "replica 2 closed agent-c's stream");
    console.log(`agent stream on another replica closed ${Date.now() - deletedAt} ms after the node's deletion`);
  }, 60_000);

  it("revoking a token through one replica ends its stream held by another", async () => {
    const { secret, token } = await set.client(TokenService, 0).createToken({ name: "watcher", scope: TokenScope.READ }, { headers: asAdmin(set) });
    // A job that stays queued (its node has no agent) to watch.
    const idle = await set.client(NodeService, 0).registerNode({ name: "n-idle" }, { headers: asAdmin(set) });
    const { jobId } = await set.client(DeploymentService, 0).createDeployment({ deploymentId: "idle", renderedCompose: COMPOSE, nodeId: idle.node!.id }, { headers: asAdmin(set) });
    const { index } = await withIndex((onHeader) => set.client(TokenService, 0).whoAmI({}, { headers: { authorization: `Bearer ${secret}` }, onHeader }));
    const watch = set.client(DeploymentService, 1).watchJob({ jobId }, { headers: { authorization: `Bearer ${secret}`, "capstan-min-index": String(index) } });
    const ended = (async () => {
      try {
        for await (const _msg of watch) {
          /* status messages until the stream ends */
        }
        return undefined;
      } catch (err) {
        return ConnectError.from(err);
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const revokedAt = Date.now();
    await set.client(TokenService, 0).revokeToken({ tokenId: token!.id }, { headers: asAdmin(set) });
    const err = await ended;
    console.log(`stream on another replica ended ${Date.now() - revokedAt} ms after the revocation`);
    expect(err?.code).toBe(Code.Unauthenticated);
  }, 30_000);
});
