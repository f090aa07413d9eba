import { createClient } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TaskService } from "../../gen/proto/capstan/v1/task_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { runCli } from "../support/cli-process.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// A marker no other process carries, so the test can find (and clean up) what its tasks started.
const MARK = "301.4343";

describe("schedules, one-off tasks and hooks with real agents (process driver)", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-tasks-"));
  const env = {
    DATABASE_URL: `file:${join(dir, "c.db")}`,
    HEARTBEAT_TTL: "2s",
    RECONCILE_INTERVAL: "300ms",
    LAUNCH_BACKOFF: "300ms",
    LAUNCH_BACKOFF_MAX: "1s",
  };
  let server: TestServer;
  const agents: AgentProcess[] = [];
  const deployments = () => createClient(DeploymentService, server.grpc);
  const tasks = () => createClient(TaskService, server.grpc);
  const nodes = () => createClient(NodeService, server.grpc);
  const service = async (name: string) => (await deployments().getService({ serviceName: name })).service;

  const startAgents = async () => {
    for (const name of ["node-a", "node-b"]) {
      agents.push(startAgent(["--server", server.url, "--state-dir", join(dir, name), "--workdir", dir, "--name", name, "--max-backoff", "500"]));
    }
    await eventually(async () => (await nodes().listNodes({})).nodes.filter((n) => n.connected).length === 2, 30_000, "two agents connected");
  };

  beforeAll(async () => {
    mkdirSync(join(dir, "app"));
    server = await startTestServer(env);
    await startAgents();
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await server?.stop();
    try {
      execFileSync("pkill", ["-f", MARK]);
    } catch {
      // nothing left to kill
    }
  });

  it("RunTask runs a spec once to completion, with its logs and exit code (gRPC and REST)", async () => {
    const { task } = await tasks().runTask({ service: { name: "once", command: 'echo "hello from $CAPSTAN_SERVICE"; echo oops >&2; exit 3' } });
    expect(task?.kind).toBe("manual");
    const done = await eventually(async () => {
      const t = (await tasks().getTask({ taskId: task?.id })).task;
      return t && ["succeeded", "failed"].includes(t.status) ? t : undefined;
    }, 20_000, "task finished");
    expect(done).toMatchObject({ status: "failed", exitCode: 3, serviceName: "once" });
    expect(done.error).toContain("exited with 3");
    expect(done.logs).toContain("hello from once");
    expect(done.logs).toContain("oops");

    const rest = await httpRequest(`${server.url}/api/v1/tasks`, { body: { service: { name: "once-rest", command: "echo rest-ok" } } });
    expect(rest.status).toBe(202);
    const id = rest.json.task.id as string;
    const got = await eventually(async () => {
      const r = await httpRequest(`${server.url}/api/v1/tasks/${id}`);
      return r.json.task.status === "succeeded" ? r.json.task : undefined;
    }, 20_000, "REST task succeeded");
    expect(got.logs).toContain("rest-ok");
    expect(got.exitCode ?? 0).toBe(0);
  });

  it("capstan run follows a task's logs and exits with its outcome; capstan tasks lists it", async () => {
    const cli = (...args: string[]) => runCli(["--server", server.url, ...args], { XDG_CONFIG_HOME: join(dir, "cli") });
    const ok = await cli("run", "--command", "echo cli says $GREETING", "--env", "GREETING=hi", "--name", "cli-task");
    expect(ok.stdout).toContain("cli says hi");
    expect(ok.stderr).toMatch(/task task-\S+ succeeded/);
    expect(ok.code).toBe(0);
    const bad = await cli("run", "--command", "echo about to fail; exit 5", "--name", "cli-bad");
    expect(bad.stdout).toContain("about to fail");
    expect(bad.stderr).toContain("failed: exited with 5");
    expect(bad.code).toBe(1);
    const listed = await cli("tasks", "--service", "cli-bad");
    expect(listed.stdout).toMatch(/cli-bad\s+manual\s+failed\s+5/);
  });

  it("CancelTask stops a running task's process", async () => {
    const { task } = await tasks().runTask({ service: { name: "long", command: `sleep ${MARK}` } });
    await eventually(async () => (await tasks().getTask({ taskId: task?.id })).task?.status === "running", 20_000, "task running");
    await eventually(() => processCount(MARK) > 0, 10_000, "its process started");
    const cancelled = await tasks().cancelTask({ taskId: task?.id, reason: "test" });
    expect(cancelled.task?.status).toBe("cancelled");
    await eventually(() => processCount(MARK) === 0, 15_000, "its process stopped");
    await expect(tasks().cancelTask({ taskId: task?.id })).rejects.toThrow(/already cancelled/);
  });

  it("RunTask refuses a request without a spec, naming the field, and an unknown service", async () => {
    await expect(tasks().runTask({})).rejects.toThrow(/service/);
    await expect(tasks().runTask({ serviceName: "nope" })).rejects.toThrow(/not found/);
    await expect(deployments().apply({ spec: { services: [{ name: "bad", command: "true", schedule: "every minute" }] } })).rejects.toThrow(/schedule/);
    await expect(deployments().apply({ spec: { services: [{ name: "bad", command: "true", schedule: "* * * * *", scheduleTimeZone: "Mars/Base" }] } })).rejects.toThrow(/scheduleTimeZone/);
  });

  it("a per-second schedule runs as tasks to completion, its history on the service, and runs no replicas", async () => {
    await deployments().apply({ spec: { services: [{ name: "tick", command: "echo tick $CAPSTAN_TASK_ID", schedule: "* * * * * *" }] } });
    const svc = await eventually(async () => {
      const s = await service("tick");
      return (s?.recentTasks.filter((t) => t.status === "succeeded").length ?? 0) >= 2 ? s : undefined;
    }, 20_000, "two scheduled runs succeeded");
    expect(svc.replicaSet).toEqual([]);
    expect(svc.status).toBe("running");
    expect(svc.nextScheduleTime).toBeDefined();
    const run = svc.recentTasks.find((t) => t.status === "succeeded");
    expect(run?.kind).toBe("schedule");
    expect(run?.scheduledTime).toBeDefined();
    const full = (await tasks().getTask({ taskId: run?.id })).task;
    expect(full?.logs).toContain(`tick ${run?.id}`);
    const rest = await httpRequest(`${server.url}/api/services/tick/tasks`);
    expect(rest.json.tasks.length).toBeGreaterThanOrEqual(2);
    await deployments().deleteService({ serviceName: "tick" });
  });

  it("a run still going skips the next times (no overlap by default)", async () => {
    await deployments().apply({ spec: { services: [{ name: "slow", command: "sleep 2.5", schedule: "* * * * * *" }] } });
    const skipped = await eventually(async () => (await service("slow"))?.recentTasks.find((t) => t.status === "skipped"), 20_000, "a skipped time");
    expect(skipped.error).toContain("still running");
    const recent = (await service("slow"))?.recentTasks ?? [];
    expect(recent.filter((t) => t.status === "running" || t.status === "pending").length).toBeLessThanOrEqual(1);
    await deployments().deleteService({ serviceName: "slow" });
  });

  it("a failing hooks.beforeStart fails the launch with the hook's output, and the reconciler retries with backoff", async () => {
    await deployments().apply({ spec: { services: [{ name: "hooked-bad", path: "app", command: `sleep ${MARK}`, hooks: { beforeStart: "echo preparing in $(pwd); exit 7" } }] } });
    const failed = await eventually(async () => {
      const jobs = (await deployments().listJobs({ status: JobStatus.FAILED, pageSize: 1000 })).jobs.filter((j) => j.serviceName === "hooked-bad");
      return jobs.length >= 2 ? jobs : undefined;
    }, 20_000, "two failed launches");
    expect(failed[0]?.error).toContain("hooks.beforeStart exited with 7");
    expect(failed[0]?.logs).toContain(`preparing in ${join(dir, "app")}`);
    expect(failed[0]?.exitCode).toBe(7);
    await eventually(async () => (await service("hooked-bad"))?.statusMessage.includes("launch failed"), 20_000, "backoff on the service");
    expect(processCount(MARK)).toBe(0);
    await deployments().deleteService({ serviceName: "hooked-bad" });
  });

  it("a passing hooks.beforeStart runs in the replica's directory with its env before the replica starts", async () => {
    await deployments().apply({
      spec: { services: [{ name: "hooked-ok", path: "app", command: `cat ready.txt; sleep ${MARK}`, env: { GREETING: "hi" }, hooks: { beforeStart: 'echo "$GREETING $CAPSTAN_SERVICE" > ready.txt' } }] },
    });
    await eventually(async () => (await service("hooked-ok"))?.replicaSet.some((r) => r.status === "running"), 20_000, "replica running");
    expect(existsSync(join(dir, "app", "ready.txt"))).toBe(true);
    expect(readFileSync(join(dir, "app", "ready.txt"), "utf8")).toBe("hi hooked-ok\n");
    await deployments().deleteService({ serviceName: "hooked-ok" });
  });

  it("hooks.afterDeploy runs once per apply on a node running a replica, after all replicas run; its outcome is on the service", async () => {
    await deployments().apply({ spec: { services: [{ name: "web", command: `sleep ${MARK}`, replicas: 2, hooks: { afterDeploy: "echo deployed $CAPSTAN_SERVICE" } }] } });
    const svc = await eventually(async () => {
      const s = await service("web");
      return s?.afterDeployTask?.status === "succeeded" ? s : undefined;
    }, 30_000, "after-deploy hook succeeded");
    const first = svc.afterDeployTask;
    expect(svc.replicaSet.filter((r) => r.status === "running").length).toBe(2);
    expect(svc.replicaSet.map((r) => r.nodeId)).toContain(first?.nodeId);
    expect(timestampDate(first!.createTime!).getTime()).toBeGreaterThanOrEqual(Math.max(...svc.replicaSet.map((r) => timestampDate(r.createTime!).getTime())));
    expect((await tasks().getTask({ taskId: first?.id })).task?.logs).toContain("deployed web");
    // Re-applying the same spec is not a new deployment: the hook does not run again.
    await deployments().apply({ spec: { services: [{ name: "web", command: `sleep ${MARK}`, replicas: 2, hooks: { afterDeploy: "echo deployed $CAPSTAN_SERVICE" } }] } });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await tasks().listTasks({ serviceName: "web" })).tasks.filter((t) => t.kind === "after_deploy")).toHaveLength(1);
    // A changed spec is: a failing hook is reported as failed.
    await deployments().apply({ spec: { services: [{ name: "web", command: `sleep ${MARK}`, replicas: 2, hooks: { afterDeploy: "echo migrating; exit 4" } }] } });
    const second = await eventually(async () => {
      const t = (await service("web"))?.afterDeployTask;
      return t && t.id !== first?.id && t.status === "failed" ? t : undefined;
    }, 30_000, "second after-deploy hook failed");
    expect(second.exitCode).toBe(4);
    await deployments().deleteService({ serviceName: "web" });
  });

  it("with a slow hooks.beforeStart, the replica is pending until the hook is done, and hooks.afterDeploy runs only after it", async () => {
    // The hook takes 2 s and leaves the time it ended; the after-deploy hook leaves the time it began.
    const beforeStart = 'sleep 2; date +%s%N > "$CAPSTAN_REPLICA_ID.before"';
    await deployments().apply({
      spec: { services: [{ name: "slow-hook", path: "app", command: `sleep ${MARK}`, replicas: 1, hooks: { beforeStart, afterDeploy: "date +%s%N > after-deploy.started" } }] },
    });
    // The agent has taken the launch (its job is in progress) while the replica is still pending.
    const pending = await eventually(async () => {
      const r = (await service("slow-hook"))?.replicaSet.find((x) => x.status === "pending" && x.jobId !== "");
      return r && (await deployments().getJob({ jobId: r.jobId })).job?.status === JobStatus.IN_PROGRESS ? r : undefined;
    }, 20_000, "launch taken, replica pending");
    await eventually(async () => (await service("slow-hook"))?.afterDeployTask?.status === "succeeded", 30_000, "after-deploy hook succeeded");
    const ended = Number(readFileSync(join(dir, "app", `${pending.id}.before`), "utf8")) / 1e6;
    const began = Number(readFileSync(join(dir, "app", "after-deploy.started"), "utf8")) / 1e6;
    expect(began).toBeGreaterThan(ended);
    await deployments().deleteService({ serviceName: "slow-hook" });
  });

  it("times missed while the control plane was down run once, not once per missed time", async () => {
    await deployments().apply({ spec: { services: [{ name: "beat", command: "true", schedule: "* * * * * *" }] } });
    await eventually(async () => (await service("beat"))?.recentTasks.some((t) => t.status === "succeeded"), 20_000, "a first run");
    await server.stop();
    const downFor = 4_000;
    await new Promise((r) => setTimeout(r, downFor));
    server = await startTestServer(env);
    const times = await eventually(async () => {
      const list = (await tasks().listTasks({ serviceName: "beat", pageSize: 500 })).tasks;
      const after = list.filter((t) => t.scheduledTime && timestampDate(t.scheduledTime).getTime() > Date.now() - 3_000);
      return after.length >= 2 ? list : undefined;
    }, 30_000, "runs after the restart");
    const scheduled = times.map((t) => timestampDate(t.scheduledTime!).getTime()).sort((a, b) => a - b);
    const gaps = scheduled.slice(1).map((t, i) => t - scheduled[i]);
    // The downtime shows as one gap: the seconds missed were not each run on return.
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(downFor - 1_000);
    expect(server.logs.some((l) => l.includes("schedule times missed; the latest runs once"))).toBe(true);
    await deployments().deleteService({ serviceName: "beat" });
  });
});

/** How many processes carry the marker in their command line. */
function processCount(mark: string): number {
  try {
    return execFileSync("pgrep", ["-f", mark]).toString().trim().split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}
