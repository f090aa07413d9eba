import { createClient } from "@connectrpc/connect";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { runCli, type CliResult } from "../support/cli-process.js";
import { recordingDocker } from "../support/recording-docker.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const JOIN = "cli-join-token-0123456789abcdef";
const ADMIN = "cli-admin-token-0123456789abcdef";
// Each CLI run is a fresh Node process compiling TypeScript through tsx: seconds
// each on a loaded machine. A ceiling against hangs only; nothing asserts on time.
const CEILING = 240_000;

describe("the capstan CLI against a real server and agent", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-cli-"));
  const config = join(dir, "config");
  const docker = recordingDocker();
  let server: TestServer;
  let agent: AgentProcess;
  let nodeId = "";
  /** The CLI with the saved context only (no flags, no CAPSTAN_* variables). */
  const cli = (...args: string[]) => runCli(args, { XDG_CONFIG_HOME: config });
  /** The CLI with a server and token given as flags. */
  const as = (token: string, ...args: string[]) => runCli(["--server", server.url, "--token", token, ...args], { XDG_CONFIG_HOME: join(dir, "no-config") });
  const ok = (r: CliResult) => {
    expect(r.stderr + r.stdout).toBeDefined();
    if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  };
  const json = <T = Record<string, unknown>>(r: CliResult): T => JSON.parse(ok(r)) as T;

  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_JOIN_TOKEN: JOIN,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      RECONCILE_INTERVAL: "300ms",
    });
    agent = startAgent(["--server", server.url, "--join-token", JOIN, "--state-dir", join(dir, "agent"), "--workdir", dir, "--name", "cli-agent", "--label", "zone=a"], {
      PATH: `${docker.dir}:${process.env.PATH}`,
    });
  }, CEILING);
  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  }, CEILING);

  it("login checks the token and saves the context in a file only its owner can read", async () => {
    const out = ok(await runCli(["login", "--server", server.url, "--token", "-", "--name", "local"], { XDG_CONFIG_HOME: config }, `${ADMIN}\n`));
    expect(out).toContain('context "local" saved');
    const file = join(config, "capstan", "config.yaml");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(config, "capstan")).mode & 0o777).toBe(0o700);
    expect(parse(readFileSync(file, "utf8"))).toMatchObject({ current: "local", contexts: [{ name: "local", server: server.url, token: ADMIN }] });
    // Later commands find the server and token in the saved context.
    const who = json<{ kind: string; scopes: string[] }>(await cli("whoami", "-o", "json"));
    expect(who.kind).toBe("operator");
    expect(who.scopes).toContain("admin");
    // A wrong token is refused and nothing is saved under its name.
    const bad = await runCli(["login", "--server", server.url, "--token", "not-a-real-token-0123456789", "--name", "bad"], { XDG_CONFIG_HOME: config });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Unauthenticated");
    expect(readFileSync(file, "utf8")).not.toContain("bad");
  }, CEILING);

  it("lists nodes as an aligned table, JSON and YAML, and shows one by name", async () => {
    const listed = await eventually(async () => {
      const r = json<{ nodes: Array<{ id: string; name: string; connected: boolean }> }>(await cli("nodes", "-o", "json"));
      return r.nodes.find((n) => n.name === "cli-agent" && n.connected);
    }, 20_000, "agent connected");
    nodeId = listed.id;
    const table = ok(await cli("nodes")).trimEnd().split("\n");
    expect(table[0]).toMatch(/^ID\s+NAME\s+STATUS\s+CONNECTED\s+ADDRESS\s+AGE\s+LOAD\s+LABELS$/);
    const row = table.find((l) => l.includes("cli-agent"))!;
    expect(row).toContain("online");
    expect(row).toContain("zone=a");
    // Columns line up: every cell of the NAME column starts where its heading does.
    expect(row.indexOf("cli-agent")).toBe(table[0].indexOf("NAME"));
    const yaml = parse(ok(await cli("nodes", "-o", "yaml"))) as { nodes: Array<{ name: string }> };
    expect(yaml.nodes.map((n) => n.name)).toContain("cli-agent");
    const got = ok(await cli("node", "get", "cli-agent"));
    expect(got).toMatch(new RegExp(`id:\\s+${nodeId}`));
    expect(got).toMatch(/labels:\s+zone=a/);
    // The agent's heartbeats are kept for charts; the table shows them oldest first.
    await eventually(async () => json<{ samples?: unknown[] }>(await cli("node", "history", "cli-agent", "-o", "json")).samples?.length, 30_000, "a heartbeat sample");
    const history = ok(await cli("node", "history", "cli-agent", "--since", "10m")).trimEnd().split("\n");
    expect(history[0]).toMatch(/^TIME\s+CPU\s+MEM\s+LOAD1\s+MEM USED\s+DISK FREE\s+CONNS$/);
    expect(history[1]).toMatch(/\d+\.\d%\s+\d+\.\d%/);
  }, CEILING);

  it("changes a node's eligibility and drains it, and back", async () => {
    expect(ok(await cli("node", "eligibility", "cli-agent", "ineligible"))).toMatch(/status:\s+online,ineligible/);
    expect(ok(await cli("node", "eligibility", nodeId, "eligible"))).toMatch(/status:\s+online\n/);
    expect(ok(await cli("node", "drain", "cli-agent"))).toMatch(/status:\s+online,draining/);
    const back = json<{ draining: boolean; eligibility: string }>(await cli("node", "drain", "cli-agent", "--cancel", "-o", "json"));
    expect(back).toMatchObject({ draining: false, eligibility: "NODE_ELIGIBILITY_ELIGIBLE" });
  }, CEILING);

  it("deploys a compose file with --wait until it runs on the agent, then rolls back and removes it", async () => {
    const v1 = join(dir, "compose-v1.yaml");
    const v2 = join(dir, "compose-v2.yaml");
    writeFileSync(v1, "services:\n  web:\n    image: nginx:1.27\n");
    writeFileSync(v2, "services:\n  web:\n    image: nginx:1.28\n");
    const first = await cli("deploy", "-f", v1, "--name", "web", "--node", "cli-agent", "--env", "DB_PASSWORD=s3cr3t", "--wait");
    expect(ok(first)).toMatch(/status:\s+running/);
    expect(first.stderr).toMatch(/job \S+ \(deploy_compose\) (queued|dispatched|in_progress)/);
    expect(first.stderr).toMatch(/job \S+ \(deploy_compose\) completed/);
    expect(first.stderr).toContain("deployment web running");
    expect(first.stdout).not.toContain("s3cr3t");
    // The agent ran docker compose up for the project.
    expect(docker.calls().some((c) => c.includes("up") && c.includes("web"))).toBe(true);

    // Without --wait: the answer names the job, which logs -f follows to its end.
    const second = json<{ deploymentId: string; revision: number; jobId: string }>(await cli("deploy", "-f", v2, "--name", "web", "-o", "json"));
    expect(second).toMatchObject({ deploymentId: "web", revision: 2 });
    const followed = await cli("logs", "-f", second.jobId);
    expect(ok(followed)).toContain("Container web-1  Started");
    expect(followed.stderr).toContain(`job ${second.jobId} completed`);
    const listed = await eventually(async () => {
      const lines = ok(await cli("deployments")).split("\n");
      return /web\s+web\s+running\s+2/.test(lines.find((l) => l.startsWith("web ")) ?? "") && lines;
    }, 20_000, "revision 2 running");
    expect(listed[0]).toMatch(/^NAME\s+PROJECT\s+STATUS\s+REVISION/);

    const back = await cli("rollback", "web", "--to", "1", "--wait");
    expect(ok(back)).toMatch(/revision:\s+3/);
    expect(back.stderr).toMatch(/completed/);
    const got = ok(await cli("deployment", "get", "web"));
    expect(got).toMatch(/env:\s+DB_PASSWORD/);
    expect(got).toMatch(/3\s+rollback \(rollback to 1\)\s+completed/);
    const asJson = json<{ revision: number; status: string }>(await cli("deployment", "get", "web", "-o", "json"));
    expect(asJson).toMatchObject({ revision: 3, status: "DEPLOYMENT_STATUS_RUNNING" });

    const rm = await cli("deployment", "rm", "web", "--wait");
    expect(ok(rm)).toContain("deployment web");
    expect(rm.stderr).toMatch(/job \S+ completed/);
    expect(docker.calls().some((c) => c.includes("down"))).toBe(true);
  }, CEILING);

  it("names the field the server refused, with a non-zero exit, over gRPC and Connect", async () => {
    const empty = join(dir, "empty.yaml");
    writeFileSync(empty, "");
    for (const protocol of ["grpc", "connect"]) {
      const r = await cli("--protocol", protocol, "deploy", "-f", empty, "--name", "broken");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: InvalidArgument: rendered_compose: /m);
      expect(r.stderr).toContain("field: rendered_compose");
      expect(r.stdout).toBe("");
    }
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "apiVersion: orion/v1\nkind: Config\nmetadata: {name: x, environment: dev}\nspec:\n  services:\n    - name: api\n      command: 'true'\n      replicas: -1\n");
    const r = await cli("apply", "-f", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("field: spec.services[0].replicas");
    // Mistakes caught before any call exit 2 and name the flag.
    const usage = await cli("deploy", "-f", join(dir, "missing.yaml"), "--name", "x");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--file: cannot read");
  }, CEILING);

  it("applies an orion/v1 document: a dry run shows the plan as a diff, then services run, explain shows every node", async () => {
    const doc = join(dir, "orion.yaml");
    writeFileSync(
      doc,
      [
        "apiVersion: orion/v1",
        "kind: Config",
        "metadata:",
        "  name: demo",
        "  environment: dev",
        "spec:",
        "  services:",
        "    - name: hello",
        "      command: echo hello from capstan; sleep 8",
        "      replicas: 1",
        "      env:",
        "        PORT: 3000",
        "  nodes: []",
        "  plugins: []",
        "",
      ].join("\n"),
    );
    const plan = ok(await cli("apply", "-f", doc, "--dry-run"));
    expect(plan).toContain("+ hello (create, replicas 0 -> 1)");
    expect(plan).toContain(`new replicas on: ${nodeId}`);
    expect(plan).toContain("dry run: nothing changed");
    expect(json<{ items: unknown[] }>(await cli("services", "-o", "json")).items).toEqual([]);

    // --wait polls until the replica runs (the process lives 8 s, then the reconciler starts another).
    const applied = await cli("apply", "-f", doc, "--wait");
    expect(ok(applied)).toContain("accepted");
    expect(applied.stderr).toContain("hello: 1/1 running, running");
    expect(ok(await cli("services"))).toMatch(/hello\s+\S+\s+[01]\/1\s+echo hello from capstan/);
    const svc = ok(await cli("service", "get", "hello"));
    expect(svc).toMatch(/env:\s+PORT/);
    expect(svc).toMatch(/REPLICA\s+STATUS\s+NODE/);

    // A changed document: the plan names the fields that change.
    writeFileSync(doc, readFileSync(doc, "utf8").replace("replicas: 1", "replicas: 2"));
    const diff = ok(await cli("apply", "-f", doc, "--dry-run"));
    expect(diff).toContain("~ hello (update, replicas 1 -> 2)");
    expect(diff).toContain("- replicas: 1");
    expect(diff).toContain("+ replicas: 2");

    const explain = ok(await cli("explain", "hello")).split("\n");
    expect(explain[0]).toMatch(/^NODE\s+NAME\s+FEASIBLE\s+FILTER\s+SCORE\s+PLACED\s+REASON \/ TERMS$/);
    expect(explain.find((l) => l.startsWith(nodeId))).toMatch(/cli-agent\s+yes\s+-\s+-?\d/);
    // An ineligible node is listed with the filter that rejects it and why.
    ok(await cli("node", "eligibility", nodeId, "ineligible"));
    const rejected = json<{ nodes: Array<{ nodeId: string; feasible: boolean; rejectedBy: string; reason: string }> }>(await cli("explain", "hello", "-o", "json"));
    expect(rejected.nodes.find((n) => n.nodeId === nodeId)).toMatchObject({ feasible: false });
    expect(rejected.nodes.find((n) => n.nodeId === nodeId)!.rejectedBy).not.toBe("");
    ok(await cli("node", "eligibility", nodeId, "eligible"));
  }, CEILING);

  it("lists jobs, shows one, follows a job's logs until it ends, waits for a service to run, and cancels a job", async () => {
    const jobs = json<{ jobs: Array<{ id: string; serviceName: string; status: string; type: string }> }>(await cli("jobs", "-o", "json"));
    const launch = jobs.jobs.find((j) => j.serviceName === "hello" && j.type === "COMMAND_TYPE_LAUNCH_REPLICA")!;
    expect(launch).toBeDefined();
    expect(ok(await cli("jobs"))).toMatch(new RegExp(`${launch.id}\\s+launch_replica`));
    // logs -f streams WatchJob until the job ends (the process sleeps 8 s and exits 0).
    const followed = await cli("logs", "-f", launch.id);
    expect(ok(followed)).toContain("hello from capstan");
    expect(followed.stderr).toContain(`job ${launch.id} completed`);
    expect(ok(await cli("logs", launch.id))).toContain("hello from capstan");
    expect(ok(await cli("job", "get", launch.id))).toMatch(/status:\s+completed/);

    // A service that runs long: cancel its launch job.
    const long = join(dir, "long.json");
    writeFileSync(long, JSON.stringify({ apiVersion: "orion/v1", kind: "Config", metadata: { name: "demo", environment: "dev" }, spec: { services: [{ name: "sleeper", command: "sleep 60" }] } }));
    const waited = await cli("apply", "-f", long, "--wait");
    expect(ok(waited)).toContain("+ sleeper (create, replicas 0 -> 1)");
    expect(waited.stderr).toContain("sleeper: 1/1 running, running");
    const running = await eventually(async () => {
      const r = json<{ jobs: Array<{ id: string; serviceName: string; status: string }> }>(await cli("jobs", "--status", "in_progress", "-o", "json"));
      return r.jobs.find((j) => j.serviceName === "sleeper");
    }, 20_000, "sleeper running");
    expect(ok(await cli("job", "cancel", running.id, "--reason", "test over"))).toMatch(/status:\s+cancelled/);
    const again = await cli("job", "cancel", running.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("FailedPrecondition");

    expect(ok(await cli("service", "rm", "sleeper"))).toContain("service sleeper deleted");
    // --prune with a document naming no service deletes the one left.
    const none = join(dir, "none.yaml");
    writeFileSync(none, "apiVersion: orion/v1\nkind: Config\nmetadata: {name: demo, environment: dev}\nspec: {services: []}\n");
    const pruned = ok(await cli("apply", "-f", none, "--prune"));
    expect(pruned).toContain("- hello (delete, replicas 1 -> 0)");
    expect(pruned).not.toContain("sleeper");
    expect(json<{ items: unknown[] }>(await cli("services", "-o", "json")).items).toEqual([]);
  }, CEILING);

  it("lists the one SQLite process as the only replica, the leader", async () => {
    const rows = ok(await cli("replicas")).split("\n");
    expect(rows[0]).toMatch(/^ID\s+ADDRESS\s+VERSION\s+ROLE\s+AGENTS\s+UP\s+SEEN/);
    expect(rows[1]).toMatch(/ \*\s+http:\/\/\S+\s+\S+\s+leader, chunk owner\s+1\s/);
    expect(rows[2]).toMatch(/^leader epoch [1-9]/);
  }, CEILING);

  it("locates chunks and shows the cluster's chunk metrics", async () => {
    const identity = JSON.parse(readFileSync(join(dir, "agent", "identity.json"), "utf8")) as { nodeToken: string };
    await createClient(ChunkIndexService, server.withToken(identity.nodeToken).grpc).reportChunks({ nodeId, chunkIds: ["chunk-a", "chunk-b"] });
    const located = ok(await cli("chunks", "locate", "chunk-a", "chunk-b", "chunk-z")).split("\n");
    expect(located[0]).toMatch(/^CHUNK\s+HOLDERS\s+NODES/);
    expect(located.find((l) => l.startsWith("chunk-a"))).toMatch(new RegExp(`chunk-a\\s+1\\s+${nodeId}`));
    const metrics = json<{ totalChunks: number; totalNodes: number }>(await cli("chunks", "metrics", "-o", "json"));
    expect(metrics.totalChunks).toBe(2);
    expect(metrics.totalNodes).toBe(1);
    expect(ok(await cli("chunks", "metrics"))).toMatch(/chunks:\s+2/);
    expect(ok(await cli("node", "get", nodeId))).toMatch(/chunks:\s+2/);
  }, CEILING);

  it("creates, lists and revokes tokens; a read token cannot write; the audit log shows who did what", async () => {
    const created = json<{ token: { id: string; name: string }; secret: string }>(await cli("token", "create", "ci-reader", "--scope", "read", "--ttl", "1h", "-o", "json"));
    expect(created.token.name).toBe("ci-reader");
    expect(ok(await cli("token", "ls"))).toMatch(new RegExp(`${created.token.id}\\s+ci-reader\\s+read\\s+active`));
    expect(ok(await as(created.secret, "whoami"))).toMatch(/scopes:\s+read/);
    ok(await as(created.secret, "nodes"));
    const denied = await as(created.secret, "node", "eligibility", nodeId, "ineligible");
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("PermissionDenied");
    expect(ok(await cli("token", "revoke", created.token.id))).toContain("revoked");
    const revoked = await as(created.secret, "whoami");
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain("Unauthenticated");
    const audit = ok(await cli("audit", "--since", "1h"));
    expect(audit).toMatch(/TokenService\/CreateToken/);
    expect(audit).toMatch(/TokenService\/RevokeToken/);
    expect(audit).not.toContain(created.secret);
  }, CEILING);

  it("removes a node once its agent has stopped", async () => {
    await agent.stop();
    ok(await cli("node", "rm", "cli-agent"));
    const r = await cli("node", "get", nodeId);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("NotFound");
  }, CEILING);
});
