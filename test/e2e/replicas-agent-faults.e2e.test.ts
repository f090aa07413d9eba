import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { TaskService } from "../../gen/proto/capstan/v1/task_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { startHaproxy, type HaproxyProcess } from "../support/haproxy.js";
import { httpRequest } from "../support/http.js";
import { agentsHeld, clientAt, connectedTo, linesOf, repeated, restartReplica } from "../support/replica-faults.js";
import { postgresForReplicas, startReplicas, type ReplicaSet } from "../support/replicas.js";

// Three real server processes on one PostgreSQL and real capstan-agent processes (process driver), while the replica
// holding the agents dies, and while all three are restarted one after another. Every task appends its id to a file
// when it runs: the agents' own record, compared with the tasks the control plane acknowledged.
// Generous deadlines only so nothing hangs; nothing here is timed.

/** A task that records that it ran. */
const recording = (file: string, name: string) => ({ service: { name, command: `echo "$CAPSTAN_TASK_ID" >> ${file}` } });

describe.runIf(postgresForReplicas())("SIGKILL of the replica holding the agents (agents given every replica's URL)", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-agent-faults-"));
  const env = { LEADER_LEASE: "2s" };
  let set: ReplicaSet;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    set = await startReplicas(3, env);
    // Every agent lists r0 first: r0 holds all three streams.
    const servers = set.replicas.flatMap((r) => ["--server", r.url]);
    for (let i = 0; i < 3; i++) agents.push(startAgent([...servers, "--state-dir", join(dir, `agent-${i}`), "--workdir", dir, "--name", `agent-${i}`, "--max-backoff", "1000"]));
    await eventually(async () => (await agentsHeld(set.replicas[1].url, set.adminToken)).get("r0") === 3, 60_000, "three agents on r0");
  }, 240_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await set?.stop();
  });

  it("they reconnect to another replica; tasks acknowledged before the crash and queued during it run exactly once", async () => {
    const file = join(dir, "ran");
    const [r0, r1, r2] = set.replicas;
    // Acknowledged by r0, which dies at once (their jobs may be on the wire, running, or reported to r0 unanswered).
    const before = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => clientAt(TaskService, r0.url, set.adminToken).runTask(recording(file, `before-${i}`))));
    await r0.kill("SIGKILL");
    // Queued while the agents look for another replica.
    const during = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => clientAt(TaskService, r1.url, set.adminToken).runTask(recording(file, `during-${i}`))));
    const acknowledged = [...before, ...during].map((t) => t.task!.id);
    expect(new Set(acknowledged).size).toBe(12);

    for (const agent of agents) await eventually(() => [r1.url, r2.url].includes(connectedTo(agent).at(-1) ?? ""), 60_000, "the agent on another replica");
    const tasks = clientAt(TaskService, r2.url, set.adminToken);
    // Also a task whose report r0 took and died before writing the task: the leader settles it from its job.
    for (const id of acknowledged) await eventually(async () => (await tasks.getTask({ taskId: id })).task?.status === "succeeded", 90_000, `task ${id} succeeded`);
    const ran = linesOf(file);
    expect(repeated(ran)).toEqual([]);
    expect(ran.sort()).toEqual([...acknowledged].sort());
    console.log(`after SIGKILL of r0: agents on ${agents.map((a) => connectedTo(a).at(-1)).join(", ")}; ${ran.length} tasks ran once each`);
  }, 300_000);
});

describe.runIf(postgresForReplicas())("a rolling restart (SIGTERM, start again) of all three replicas behind HAProxy while agents run and tasks are submitted", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-rolling-"));
  // HAProxy connects from 127.0.0.1, the trusted proxy; everything here goes through it, as a user's would.
  const env = { LEADER_LEASE: "2s", TRUSTED_PROXIES: "127.0.0.1/32", RECONCILE_INTERVAL: "300ms" };
  let set: ReplicaSet;
  let lb: HaproxyProcess;
  const agents: AgentProcess[] = [];
  const held = async () => [...(await agentsHeld(lb.url, set.adminToken)).values()].reduce((a, b) => a + b, 0);
  beforeAll(async () => {
    set = await startReplicas(3, env);
    lb = await startHaproxy(set.replicas.map((r) => `127.0.0.1:${r.port}`));
    for (let i = 0; i < 3; i++) agents.push(startAgent(["--server", lb.url, "--state-dir", join(dir, `agent-${i}`), "--workdir", dir, "--name", `agent-${i}`, "--max-backoff", "1000"]));
    await eventually(async () => (await held()) === 3, 60_000, "three agents through HAProxy");
  }, 240_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await lb?.stop();
    await set?.stop();
  });

  it("loses no acknowledged task, runs each once, and relaunches no running replica", async () => {
    const launches = join(dir, "launches");
    const ran = join(dir, "ran");
    const deployments = clientAt(DeploymentService, lb.url, set.adminToken);
    await deployments.apply({ spec: { services: [{ name: "steady", command: `echo "$CAPSTAN_REPLICA_ID" >> ${launches}; exec sleep 600`, replicas: 3 }] } });
    const running = async () => ((await deployments.getService({ serviceName: "steady" })).service?.replicaSet ?? []).filter((r) => r.status === "running");
    await eventually(async () => (await running()).length === 3, 60_000, "three replicas running");

    // Tasks submitted all along, each on a new connection through HAProxy (REST): what was answered 202 must run once.
    const acknowledged: string[] = [];
    let refused = 0;
    let submitting = true;
    const submitter = (async () => {
      for (let i = 0; submitting; i++) {
        const answer = await httpRequest(`${lb.url}/api/v1/tasks`, { body: recording(ran, `rolling-${i}`), headers: { authorization: `Bearer ${set.adminToken}` } }).catch(() => undefined);
        if (answer?.status === 202) acknowledged.push(answer.json.task.id as string);
        else refused++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    for (let i = 0; i < 3; i++) {
      const old = set.replicas[i];
      await old.stop();
      expect(old.exitCode).toBe(0);
      const again = await restartReplica(set, i, env);
      expect(again.alive()).toBe(true);
      // The next one goes down only once every agent holds a stream again and the restarted replica is in the list.
      await eventually(async () => (await held()) === 3 && (await agentsHeld(lb.url, set.adminToken)).has(`r${i}`), 60_000, `agents settled after restarting r${i}`);
    }
    submitting = false;
    await submitter;
    expect(acknowledged.length).toBeGreaterThan(0);

    const tasks = clientAt(TaskService, lb.url, set.adminToken);
    for (const id of acknowledged) await eventually(async () => (await tasks.getTask({ taskId: id })).task?.status === "succeeded", 90_000, `task ${id} succeeded`);
    const recorded = linesOf(ran);
    // Each ran once; every acknowledged one ran (a refused call's task may have been written too: it ran at most once).
    expect(repeated(recorded)).toEqual([]);
    expect(acknowledged.filter((id) => !recorded.includes(id))).toEqual([]);
    // The service's processes outlived every restart: the same three, launched once each.
    const now = await running();
    expect(now).toHaveLength(3);
    expect(linesOf(launches).sort()).toEqual(now.map((r) => r.id).sort());
    console.log(`rolling restart: ${acknowledged.length} tasks acknowledged and run once each, ${refused} calls refused while a replica restarted, ${recorded.length - acknowledged.length} unacknowledged that ran`);
  }, 400_000);
});
