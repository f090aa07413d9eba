import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { AgentService, type AgentStreamRequestSchema } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { ReplicaService } from "../../gen/proto/capstan/v1/replica_service_pb.js";
import { eventually } from "../support/agent-process.js";
import { httpRequest } from "../support/http.js";
import { asAdmin, postgresForReplicas, startReplicas, type ReplicaSet } from "../support/replicas.js";
import { TEST_CLUSTER_SECRET } from "../support/server-process.js";

// Three real server processes on one PostgreSQL schema, each advertising its real address so
// followers can forward chunk calls to the owner (the leader). Deadlines are generous only so
// nothing hangs.
/**
 * A hand-written agent stream (capstan-agent reports no chunks): it says hello,
 * then answers every chunk_report_request with a full report of `chunks`.
 */
function chunkAgent(set: ReplicaSet, via: number, name: string, chunks: string[]) {
  type AgentStreamRequest = MessageInitShape<typeof AgentStreamRequestSchema>;
  const outbox: AgentStreamRequest[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const send = (m: AgentStreamRequest) => {
    outbox.push(m);
    wake?.();
  };
  const requests = (async function* () {
    while (!closed) {
      const next = outbox.shift();
      if (next) yield next;
      else await new Promise<void>((r) => (wake = r));
    }
  })();
  const state = { nodeId: "", asked: 0 };
  send({ message: { case: "hello", value: { name, address: "10.2.0.1", agentVersion: "test" } } });
  const done = (async () => {
    for await (const res of set.client(AgentService, via).agentStream(requests)) {
      if (res.message.case === "welcome") state.nodeId = res.message.value.nodeId;
      if (res.message.case === "chunkReportRequest") {
        state.asked++;
        send({ message: { case: "chunkReport", value: { full: true, chunks: chunks.map((chunkId) => ({ chunkId, sizeBytes: 1 })), removedChunkIds: [] } } });
      }
    }
  })().catch(() => undefined);
  return {
    state,
    close: async () => {
      closed = true;
      wake?.();
      await done;
    },
  };
}

describe.runIf(postgresForReplicas())("the chunk index across three replicas", () => {
  let set: ReplicaSet;
  let owner = -1;
  let followers: number[] = [];
  const replicaIndex = (id: string) => Number(id.slice(1));

  const leaderSeenBy = async (i: number): Promise<string | undefined> => {
    const l = await set.client(ReplicaService, i).listReplicas({}, { headers: asAdmin(set) });
    return l.replicas.find((r) => r.leader)?.id;
  };
  const locate = async (via: number, ids: string[]) => {
    const res = await set.client(ChunkIndexService, via).getChunkLocations({ chunkIds: ids }, { headers: asAdmin(set) });
    return Object.fromEntries(res.locations.map((l) => [l.chunkId, [...l.peerIds].sort()]));
  };
  const rest = (via: number, method: string, path: string, body?: unknown) =>
    httpRequest(`${set.replicas[via].url}${path}`, { method, body, headers: asAdmin(set) });

  beforeAll(async () => {
    set = await startReplicas(3, { LEADER_LEASE: "2s", REPLICA_GRACE: "2s" }, { advertise: true });
    await eventually(async () => (await leaderSeenBy(0)) !== undefined, 30_000, "a leader");
    owner = replicaIndex((await leaderSeenBy(0))!);
    followers = [0, 1, 2].filter((i) => i !== owner);
  }, 180_000);
  afterAll(async () => {
    await set?.stop();
  });

  it("lists the leader as the chunk owner", async () => {
    const l = await set.client(ReplicaService, followers[0]).listReplicas({}, { headers: asAdmin(set) });
    expect(l.replicas.filter((r) => r.chunkOwner).map((r) => r.id)).toEqual([`r${owner}`]);
  });

  it("takes reports through one follower (registration, gRPC) and answers lookups and metrics through the other", async () => {
    const [a, b] = followers;
    // Registered through follower a with seed 004's available_chunks: recorded on the owner.
    const reg = await rest(a, "POST", "/api/v1/nodes", { node_id: "cn1", address: "10.1.0.1", p2p_port: 7000, available_chunks: ["c1"] });
    expect(reg.status).toBe(201);
    await set.client(NodeService, a).registerNode({ nodeId: "cn2", address: "10.1.0.2" }, { headers: asAdmin(set) });
    const report = await set.client(ChunkIndexService, a).reportChunks({ nodeId: "cn2", chunks: [{ chunkId: "c1", sizeBytes: 10 }, { chunkId: "c2", sizeBytes: 20 }] }, { headers: asAdmin(set) });
    expect(report.chunkCount).toBe(2);
    // No polling: the follower forwards to the owner, which waits for the feed to bring the nodes.
    expect(await locate(b, ["c1", "c2", "unknown"])).toEqual({ c1: ["cn1", "cn2"], c2: ["cn2"], unknown: [] });
    expect(await locate(owner, ["c1", "c2"])).toEqual({ c1: ["cn1", "cn2"], c2: ["cn2"] });
    // Node lists and reads through a follower carry what the owner's index has (seed 004's available_chunks).
    const listed = await rest(b, "GET", "/api/v1/nodes");
    const cn2 = listed.json.nodes.find((n: { node_id: string }) => n.node_id === "cn2");
    expect([...cn2.available_chunks].sort()).toEqual(["c1", "c2"]);
    expect(cn2.chunk_count).toBe(2);
    expect((await rest(a, "GET", "/api/v1/nodes/cn1")).json.node.available_chunks).toEqual(["c1"]);
    const metrics = await set.client(ChunkIndexService, b).getClusterMetrics({}, { headers: asAdmin(set) });
    expect(metrics.totalChunks).toBe(2);
    expect(metrics.totalReplicas).toBe(3);
  });

  it("takes seed 004's REST paths through a follower, incremental updates included", async () => {
    const [a, b] = followers;
    await rest(b, "POST", "/api/v1/nodes", { node_id: "cn3", address: "10.1.0.3", p2p_port: 7000, available_chunks: [] });
    expect((await rest(b, "PUT", "/api/v1/nodes/cn3/chunks", { chunk_ids: ["c3", "c4"] })).json).toEqual({ chunk_count: 2 });
    expect((await rest(a, "POST", "/api/v1/nodes/cn3/chunks", { added_chunk_ids: ["c5"], removed_chunk_ids: ["c4"] })).json.chunk_count).toBe(2);
    const found = await rest(a, "POST", "/api/v1/chunks/locations", { chunk_ids: ["c3", "c4", "c5"] });
    expect(found.status).toBe(200);
    expect(Object.fromEntries(found.json.locations.map((l: { chunk_id: string; peer_ids: string[] }) => [l.chunk_id, l.peer_ids]))).toEqual({ c3: ["cn3"], c4: [], c5: ["cn3"] });
    // The holder's details come from the follower's own view of the node.
    expect(found.json.locations[0].holders[0]).toMatchObject({ node_id: "cn3", address: "10.1.0.3" });
    const m = await rest(a, "GET", "/api/v1/metrics");
    expect(m.json.total_chunks).toBe(4);
    // A report for a node nobody registered is the owner's NotFound, passed through.
    const ghost = await rest(a, "PUT", "/api/v1/nodes/ghost/chunks", { chunk_ids: ["x"] });
    expect(ghost.status, ghost.text).toBe(404);
  });

  it("explains chunk-aware placement through a follower with the owner's locations and sizes", async () => {
    // cn2 holds c1 (10 bytes) and c2 (20 bytes); cn1 holds c1 only. Read from the owner, not from the follower's empty index.
    const e = await set.client(DeploymentService, followers[1]).explainPlacement({ requirements: { chunkIds: ["c1", "c2"] }, count: 1 }, { headers: asAdmin(set) });
    const locality = Object.fromEntries(e.nodes.map((v) => [v.nodeId, v.locality]));
    expect(locality.cn2).toBe("holds 30 B of 30 B wanted");
    expect(locality.cn1).toBe("holds 10 B of 30 B wanted");
  });

  it("refuses a forged principal header from a client, on followers and the owner alike", async () => {
    const forged = encodeURIComponent(JSON.stringify({ principal: { kind: "dev", peer: "127.0.0.1" }, address: "127.0.0.1" }));
    for (const i of [followers[0], owner]) {
      const client = set.client(ChunkIndexService, i);
      // No token at all, claiming dev standing.
      const plain = await client.getChunkLocations({ chunkIds: ["c1"] }, { headers: { "capstan-on-behalf-of": forged } }).catch((e: unknown) => ConnectError.from(e));
      expect(plain).toBeInstanceOf(ConnectError);
      expect((plain as ConnectError).code).toBe(Code.Unauthenticated);
      // A wrong secret, with a principal that could report for any node.
      const wrong = await client
        .reportChunks({ nodeId: "cn1", chunkIds: ["evil"] }, { headers: { "capstan-on-behalf-of": forged, "capstan-replica-secret": "not-the-cluster-secret-at-all" } })
        .catch((e: unknown) => ConnectError.from(e));
      expect((wrong as ConnectError).code).toBe(Code.Unauthenticated);
      // An admin token does not make the header acceptable either.
      const admin = await client.getChunkLocations({ chunkIds: ["c1"] }, { headers: asAdmin(set, { "capstan-on-behalf-of": forged }) }).catch((e: unknown) => ConnectError.from(e));
      expect((admin as ConnectError).code).toBe(Code.Unauthenticated);
    }
    // Over REST the headers are not passed on to the call at all: a token-less caller stays nobody.
    const rest401 = await httpRequest(`${set.replicas[followers[0]].url}/api/v1/chunks/locations`, { method: "POST", body: { chunk_ids: ["c1"] }, headers: { "capstan-on-behalf-of": forged, "capstan-replica-secret": TEST_CLUSTER_SECRET } });
    expect(rest401.status).toBe(401);
    expect(await locate(owner, ["evil"])).toEqual({ evil: [] });
    // With the cluster secret the owner takes the principal it carries, and checks it: node cn2 may not report for cn1.
    const node = encodeURIComponent(JSON.stringify({ principal: { kind: "node", nodeId: "cn2" }, address: "10.1.0.2" }));
    const asReplica = { "capstan-replica-secret": TEST_CLUSTER_SECRET, "capstan-on-behalf-of": node };
    const other = await set.client(ChunkIndexService, owner).reportChunks({ nodeId: "cn1", chunkIds: ["evil"] }, { headers: asReplica }).catch((e: unknown) => ConnectError.from(e));
    expect((other as ConnectError).code).toBe(Code.PermissionDenied);
    const own = await set.client(ChunkIndexService, owner).updateChunks({ nodeId: "cn2", addedChunkIds: ["c6"] }, { headers: asReplica });
    expect(own.chunkCount).toBe(3);
  });

  it("after SIGKILL of the owner, the new owner answers only nodes that reported again, and converges as they do", async () => {
    // Agents on both followers, whose stream reports reach the owner through them.
    const agents = followers.map((i) => chunkAgent(set, i, `agent-on-r${i}`, [`a${i}`]));
    for (const [n, i] of followers.entries()) {
      await eventually(async () => (await locate(followers[1 - n], [`a${i}`]))[`a${i}`].length === 1, 15_000, `agent a${i}'s report through r${i}`);
    }
    const killed = owner;
    set.replicas[killed].signal("SIGKILL");
    const survivor = followers[0];
    let next: string | undefined;
    await eventually(async () => {
      next = await leaderSeenBy(survivor).catch(() => undefined);
      return next !== undefined && next !== `r${killed}`;
    }, 30_000, "a new leader");
    owner = replicaIndex(next!);
    const follower = followers.find((i) => i !== owner)!;
    // Until nodes report again, no lookup through any survivor answers a holder (never a stale one).
    await eventually(async () => (await locate(follower, ["c1"]).catch(() => undefined)) !== undefined, 30_000, "lookups answered after the failover");
    expect(await locate(follower, ["c1", "c2", "c3"])).toEqual({ c1: [], c2: [], c3: [] });
    expect(await locate(owner, ["c1", "c2", "c3"])).toEqual({ c1: [], c2: [], c3: [] });
    // cn1 reports again (through a follower): only it is answered.
    await rest(follower, "PUT", "/api/v1/nodes/cn1/chunks", { chunk_ids: ["c1"] });
    expect(await locate(follower, ["c1", "c2"])).toEqual({ c1: ["cn1"], c2: [] });
    // Then cn2 and cn3: the locations are what they were.
    await set.client(ChunkIndexService, owner).reportChunks({ nodeId: "cn2", chunkIds: ["c1", "c2", "c6"] }, { headers: asAdmin(set) });
    await rest(follower, "PUT", "/api/v1/nodes/cn3/chunks", { chunk_ids: ["c3", "c5"] });
    expect(await locate(follower, ["c1", "c2", "c3", "c5", "c6"])).toEqual({ c1: ["cn1", "cn2"], c2: ["cn2"], c3: ["cn3"], c5: ["cn3"], c6: ["cn2"] });
    // The agents were asked again by the replicas holding them (the new owner, and the other survivor on seeing the new epoch).
    const ids = followers.map((i) => `a${i}`);
    await eventually(async () => Object.values(await locate(follower, ids)).every((holders) => holders.length === 1), 15_000, "agents' reports after the failover");
    for (const a of agents) expect(a.state.asked).toBeGreaterThanOrEqual(2);
    await Promise.all(agents.map((a) => a.close()));
  }, 90_000);
});
