import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { PlacementStrategy } from "../../gen/proto/capstan/v1/placement_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { agentsHeld, clientAt, leaderSeenAt, linesOf, logged, repeated, restartReplica } from "../support/replica-faults.js";
import { postgresForReplicas, startReplicas, type ReplicaSet } from "../support/replicas.js";
import type { ServerProcess } from "../support/server-process.js";

// Three real server processes on one PostgreSQL, three real capstan-agent processes (process driver), and the leader
// killed or paused while it reconciles a service. Each replica's process appends its replica id to a file when it
// starts: the agents' own record of what was launched, compared with what the control plane says runs.
// Generous deadlines only so nothing hangs; nothing here is timed.
const ENV = {
  LEADER_LEASE: "2s",
  RECONCILE_INTERVAL: "300ms",
  // One replica starting at a time: reconciling a service of REPLICAS takes many passes, so a fault lands mid-way.
  MAX_PARALLEL: "1",
};
const REPLICAS = 8;

/** The pids of this machine's processes launched for the service (CAPSTAN_SERVICE in their environment). */
function processesOf(service: string): number[] {
  return readdirSync("/proc").flatMap((pid) => {
    if (!/^\d+$/.test(pid)) return [];
    try {
      return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`CAPSTAN_SERVICE=${service}`) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

describe.runIf(postgresForReplicas())("the leader killed or paused while it reconciles a service on real agents", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-leader-faults-"));
  let set: ReplicaSet;
  const agents: AgentProcess[] = [];
  const token = () => set.adminToken;
  const alive = () => set.replicas.filter((r) => r.alive());
  const byId = (id: string) => set.replicas[Number(id.slice(1))];

  /** What `server` reports for the service: its replicas, and those running. */
  const replicaSet = async (server: ServerProcess, name: string) => {
    const svc = (await clientAt(DeploymentService, server.url, token()).getService({ serviceName: name })).service;
    return svc?.replicaSet ?? [];
  };

  /** Applies a service whose every process records its replica id in launches-<name>, through `via`. */
  const apply = async (via: ServerProcess, name: string) => {
    const file = join(dir, `launches-${name}`);
    await clientAt(DeploymentService, via.url, token()).apply({
      spec: { services: [{ name, command: `echo "$CAPSTAN_REPLICA_ID" >> ${file}; exec sleep 600`, replicas: REPLICAS, placement: { strategy: PlacementStrategy.SPREAD } }] },
    });
    return file;
  };

  /** The service reaches its count on every live replica's view, and what was launched matches what runs, once each. */
  const expectConverged = async (name: string, file: string) => {
    for (const server of alive()) {
      await eventually(async () => (await replicaSet(server, name)).filter((r) => r.status === "running").length === REPLICAS, 120_000, `${REPLICAS} running, as ${server.url} sees it`);
    }
    const rows = await replicaSet(alive()[0], name);
    // No replica was decided twice (two leaders each adding one) and none was launched twice (a redelivery run again).
    expect(rows).toHaveLength(REPLICAS);
    const ids = rows.map((r) => r.id).sort();
    // A replica is running once its agent reports the process started, which may be just before the process's first
    // line: wait for the file to name every replica, then compare (an extra or repeated launch never matches).
    await eventually(() => linesOf(file).length >= REPLICAS, 30_000, "every running replica's launch recorded").catch(() => undefined);
    const launched = linesOf(file);
    expect(repeated(launched)).toEqual([]);
    expect(ids.filter((id) => !launched.includes(id))).toEqual([]);
    // A launch beyond the listed replicas must not still run: exactly REPLICAS processes of the service remain. (Seen
    // in the SIGSTOP case before agents answered a redelivered running launch: the paused replica held an agent's
    // stream, the agent's report of a launch was lost with it, the job was given up as unacknowledged and replaced while
    // its process ran on. Agents now answer redeliveries, and the reconciler stops such orphans.)
    const surplus = launched.filter((id) => !ids.includes(id));
    if (surplus.length > 0) console.log(`${name}: launched and no longer listed: ${surplus.join(", ")}`);
    await eventually(() => processesOf(name).length === REPLICAS, 60_000, `exactly ${REPLICAS} processes of ${name}`);
  };

  /** Every live replica names the same leader (with a 2 s lease on a loaded machine it may have moved since: any one). */
  const oneLeader = () =>
    eventually(async () => {
      const leaders = await Promise.all(alive().map((s) => leaderSeenAt(s.url, token())));
      return leaders[0] !== undefined && new Set(leaders).size === 1;
    }, 30_000, "every replica naming one leader");

  beforeAll(async () => {
    set = await startReplicas(3, ENV);
    // Each agent knows all three replicas, starting with a different one: streams on every replica.
    const urls = set.replicas.map((r) => r.url);
    for (let i = 0; i < 3; i++) {
      const servers = [...urls.slice(i), ...urls.slice(0, i)].flatMap((u) => ["--server", u]);
      agents.push(startAgent([...servers, "--state-dir", join(dir, `agent-${i}`), "--workdir", dir, "--name", `agent-${i}`, "--max-backoff", "1000"]));
    }
    // `connected` is known to the replica holding the stream; ListReplicas counts each replica's agents.
    await eventually(async () => [...(await agentsHeld(urls[0], token())).values()].reduce((a, b) => a + b, 0) === 3, 60_000, "three agents connected");
    expect((await clientAt(NodeService, urls[0], token()).listNodes({})).nodes).toHaveLength(3);
  }, 240_000);

  afterAll(async () => {
    for (const r of set?.replicas ?? []) r.signal("SIGCONT");
    // Stopping an agent stops the processes it launched.
    await Promise.all(agents.map((a) => a.stop()));
    await set?.stop();
  });

  it("SIGKILL of the leader mid-reconciliation: another leads, the service reaches its count, nothing launched twice", async () => {
    const oldId = await eventually(() => leaderSeenAt(set.replicas[0].url, token()), 30_000, "a leader");
    const old = byId(oldId);
    const follower = alive().find((r) => r !== old)!;
    const file = await apply(follower, "killed");
    // The first launch ran: the leader is mid-way through the service's passes.
    await eventually(() => linesOf(file).length > 0, 60_000, "the first replica launched");
    const launchedBefore = linesOf(file).length;
    await old.kill("SIGKILL");
    expect(launchedBefore).toBeLessThan(REPLICAS);
    const next = await eventually(async () => {
      const id = await leaderSeenAt(follower.url, token());
      return id !== undefined && id !== oldId && id;
    }, 60_000, "a new leader");
    console.log(`SIGKILL of leader ${oldId} after ${launchedBefore} of ${REPLICAS} launches; ${next} leads`);
    await expectConverged("killed", file);
    await oneLeader();
    // Back to three for the next test; the restarted one follows.
    await restartReplica(set, Number(oldId.slice(1)), ENV);
  }, 300_000);

  it("SIGSTOP of the leader mid-reconciliation past its lease, then SIGCONT: its late decisions are refused, it steps down, one leader", async () => {
    const oldId = await eventually(() => leaderSeenAt(set.replicas[0].url, token()), 30_000, "a leader");
    const old = byId(oldId);
    const witness = alive().find((r) => r !== old)!;
    const file = await apply(witness, "paused");
    await eventually(() => linesOf(file).length > 0, 60_000, "the first replica launched");
    const launchedBefore = linesOf(file).length;
    const stepDowns = logged(old, "stepping down as leader").length;
    old.signal("SIGSTOP");
    expect(launchedBefore).toBeLessThan(REPLICAS);
    const next = await eventually(async () => {
      const id = await leaderSeenAt(witness.url, token());
      return id !== undefined && id !== oldId && id;
    }, 60_000, "a new leader while the old one is stopped");
    // The new leader decides on while the old one is stopped (20 s: ten leases), which then wakes up holding its
    // stale view of the service and an overdue reconcile pass.
    await new Promise((r) => setTimeout(r, 20_000));
    old.signal("SIGCONT");
    const down = await eventually(() => logged(old, "stepping down as leader").length > stepDowns && logged(old, "stepping down as leader").at(-1), 60_000, "the old leader stepping down");
    expect(String(down.reason)).toMatch(/lease was lost|decision refused/);
    const refused = logged(old, "a decision was refused: another replica leads now");
    console.log(`SIGSTOP of leader ${oldId} after ${launchedBefore} of ${REPLICAS} launches; ${next} took over; resumed, it stepped down (${String(down.reason)}); decisions it had refused: ${refused.length}`);
    // A refused decision was written under the old epoch while the lease was another's (currentEpoch: 0 for another holder).
    for (const entry of refused) expect(Number(entry.currentEpoch)).not.toBe(Number(entry.epoch));
    await expectConverged("paused", file);
    await oneLeader();
    expect(old.alive()).toBe(true);
  }, 300_000);
});
