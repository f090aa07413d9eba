import { createClient } from "@connectrpc/connect";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { EventService } from "../../gen/proto/capstan/v1/event_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { pythonStubs } from "../support/conformance-clients.js";
import { follow } from "../support/event-watcher.js";
import { recordingDocker } from "../support/recording-docker.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const JOIN = "join-token-0123456789abcdef";
const ADMIN = "admin-token-0123456789abcdef";
// A marker no other process carries, so that the test can clean up the replica its agent started.
const MARK = "301.4343";
const CLI = fileURLToPath(new URL("../../src/cli/bin.mjs", import.meta.url));

/** One line the Python watcher printed: an event, or how its stream ended. */
type PyLine = { index: string; topic: string; type: string; key: string } | { end: string; details: string };

/** The Python grpcio watcher (test/support/grpc-python-watcher.py) as a process whose lines the test reads. */
function pythonWatcher(stubs: string, target: string, options: { topics: string[]; fromIndex?: string; token: string }) {
  const child: ChildProcessWithoutNullStreams = spawn("/usr/bin/python3", ["test/support/grpc-python-watcher.py", target, JSON.stringify(options)], {
    env: { ...process.env, PYTHONPATH: stubs, PYTHONUNBUFFERED: "1" },
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const lines = new AsyncQueue<PyLine>();
  createInterface({ input: child.stdout }).on("line", (l) => lines.push(JSON.parse(l) as PyLine)).on("close", () => lines.end());
  return {
    async next(): Promise<PyLine> {
      const line = await lines.next();
      if (line.done) throw new Error(`the Python watcher stopped: ${stderr}`);
      return line.value;
    },
    kill: () => child.kill("SIGKILL"),
  };
}

describe("event topics: agents, scheduler decisions, and a Python watcher", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-event-topics-"));
  const docker = recordingDocker();
  let server: TestServer;
  let stubs = "";
  const agents: AgentProcess[] = [];
  const admin = () => server.withToken(ADMIN).grpc;
  const start = (name: string) => {
    const agent = startAgent(["--server", server.url, "--join-token", JOIN, "--state-dir", join(dir, name), "--workdir", dir, "--name", name, "--max-backoff", "1000"], {
      PATH: `${docker.dir}:${process.env.PATH}`,
    });
    agents.push(agent);
    return agent;
  };
  const nodeIdOf = (name: string) =>
    eventually(async () => (await createClient(NodeService, admin()).listNodes({})).nodes.find((n) => n.name === name && n.connected)?.id, 30_000, `${name} connected`);

  beforeAll(async () => {
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      CAPSTAN_JOIN_TOKEN: JOIN,
      HEARTBEAT_TTL: "1500ms",
      RECONCILE_INTERVAL: "300ms",
      EVENTS_HEARTBEAT: "200ms",
      REPLICA_ID: "replica-one",
    });
    stubs = pythonStubs();
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await server?.stop();
    rmSync(stubs, { recursive: true, force: true });
    spawn("pkill", ["-f", MARK]).on("error", () => undefined);
  });

  it("an agent's connection and disconnection are agents events carrying its node, protocol and replica", async () => {
    const watch = follow((signal) => createClient(EventService, admin()).watchEvents({ topics: ["agents"] }, { signal }));
    try {
      await watch.until((e) => e.topic === "heartbeat");
      const agent = start("agent-events");
      const nodeId = await nodeIdOf("agent-events");
      const connected = await watch.until((e) => e.topic === "agents" && e.key === nodeId && e.type === "connected");
      expect(connected.payload).toMatchObject({ case: "agent", value: { nodeId, connected: true, protocol: "grpc", replica: "replica-one" } });
      await agent.stop();
      const disconnected = await watch.until((e) => e.topic === "agents" && e.key === nodeId && e.type === "disconnected");
      expect(disconnected.payload).toMatchObject({ case: "agent", value: { nodeId, connected: false, protocol: "grpc" } });
      expect(disconnected.index).toBeGreaterThan(connected.index);
    } finally {
      watch.stop();
    }
  }, 60_000);

  it("applying services makes scheduler decisions: placed with its node and score terms, unplaceable with each filter's count", async () => {
    start("agent-placed");
    await nodeIdOf("agent-placed");
    const watch = follow((signal) => createClient(EventService, admin()).watchEvents({ topics: ["scheduler_decisions"] }, { signal }));
    try {
      await watch.until((e) => e.topic === "heartbeat");
      await createClient(DeploymentService, admin()).apply({
        spec: {
          services: [
            { name: "web", command: `sleep ${MARK}`, replicas: 1 },
            { name: "nowhere", command: `sleep ${MARK}`, replicas: 1, placement: { labels: { zone: "nowhere" } } },
          ],
        },
      });
      const placed = await watch.until((e) => e.key === "web" && e.type === "placed");
      expect(placed.payload.case).toBe("decision");
      const d = placed.payload.case === "decision" ? placed.payload.value : undefined;
      expect(d).toMatchObject({ kind: "placed", service: "web", reason: "chosen by the round_robin strategy" });
      expect(d?.replicaId).toMatch(/^web-/);
      // The decision names the node its replica went to (agents of earlier tests may still be online).
      const replica = (await createClient(DeploymentService, admin()).getService({ serviceName: "web" })).service?.replicaSet.find((r) => r.id === d?.replicaId);
      expect(d?.nodeId).toBe(replica?.nodeId);
      expect(Object.keys(d?.scoreTerms ?? {})).toEqual(expect.arrayContaining(["fullness", "units_here"]));
      const unplaceable = await watch.until((e) => e.key === "nowhere" && e.type === "unplaceable");
      expect(unplaceable.payload).toMatchObject({ case: "decision", value: { kind: "unplaceable", service: "nowhere" } });
      // The summary counts the nodes each filter refused.
      expect(unplaceable.payload.case === "decision" && unplaceable.payload.value.reason).toMatch(/cannot be placed: placed 0 of 1 on \d+ nodes: (.*, )?\d+ rejected by labels/);

      // Over REST (Server-Sent Events, replayed from the oldest change kept): the proto names.
      const res = await fetch(`${server.url}/api/v1/events?topics=scheduler_decisions&keys=web`, { headers: { authorization: `Bearer ${ADMIN}`, "last-event-id": "0" } });
      const reader = res.body!.getReader();
      let text = "";
      while (!/"type":"placed"/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      const data = /^data: (.*"type":"placed".*)$/m.exec(text)?.[1];
      expect(JSON.parse(data ?? "{}").event).toMatchObject({ index: String(placed.index), decision: { kind: "placed", node_id: d?.nodeId, score_terms: { units_here: expect.any(Number) } } });

      // capstan events, for people: the replica, its node, the reason and the terms on one line.
      const cli = spawn(process.execPath, [CLI, "--server", server.url, "--token", ADMIN, "events", "--topic", "scheduler_decisions", "--id", "web", "--from", "0"], {
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CAPSTAN_"))),
      });
      try {
        const lines = createInterface({ input: cli.stdout })[Symbol.asyncIterator]();
        const line = String((await lines.next()).value);
        expect(line).toContain(`scheduler_decisions  placed        web  ${d?.replicaId} on ${d?.nodeId}: chosen by the round_robin strategy (fullness=`);
      } finally {
        cli.kill();
      }
    } finally {
      watch.stop();
    }
  }, 60_000);

  it("a read token's watch of every topic has agents and decisions but no token events", async () => {
    const { secret } = await createClient(TokenService, admin()).createToken({ name: "reader", scope: TokenScope.READ });
    const topics = new Set<string>();
    for await (const r of createClient(EventService, server.withToken(secret).grpc).watchEvents({ fromIndex: 0n })) {
      // The first heartbeat after the replay: everything kept has been sent.
      if (r.event?.topic === "heartbeat" && topics.size > 0) break;
      if (r.event && r.event.topic !== "heartbeat") topics.add(r.event.topic);
    }
    expect(topics).toContain("agents");
    expect(topics).toContain("scheduler_decisions");
    expect(topics).not.toContain("tokens");
    // An admin's replay of the same feed does have the reader's token.
    const adminTopics = new Set<string>();
    for await (const r of createClient(EventService, admin()).watchEvents({ fromIndex: 0n, topics: ["tokens"] })) {
      if (r.event?.topic === "heartbeat" && adminTopics.size > 0) break;
      if (r.event && r.event.topic !== "heartbeat") adminTopics.add(r.event.topic);
    }
    expect(adminTopics).toEqual(new Set(["tokens"]));
  }, 60_000);

  it("a Python grpcio watcher, disconnected, resumes from its last index and misses nothing", async () => {
    const target = new URL(server.url).host;
    const register = (id: string) => createClient(NodeService, admin()).registerNode({ nodeId: id, name: id, address: "10.0.0.9" });
    const first = pythonWatcher(stubs, target, { topics: ["nodes"], token: ADMIN });
    expect(await first.next()).toMatchObject({ topic: "heartbeat" });
    await register("py-a");
    let last: PyLine;
    do last = await first.next();
    while (!("key" in last) || last.key !== "py-a");
    // Disconnected: the process dies mid-stream; changes go on without it.
    first.kill();
    for (const id of ["py-b", "py-c", "py-d"]) await register(id);
    const resumed = pythonWatcher(stubs, target, { topics: ["nodes"], fromIndex: last.index, token: ADMIN });
    const got: Array<{ index: string; key: string }> = [];
    while (got.length < 3) {
      const line = await resumed.next();
      if ("end" in line) throw new Error(`the resumed watch ended: ${line.end} ${line.details}`);
      if (line.topic === "nodes") got.push({ index: line.index, key: line.key });
    }
    resumed.kill();
    expect(got.map((e) => e.key)).toEqual(["py-b", "py-c", "py-d"]);
    const indexes = got.map((e) => BigInt(e.index));
    expect(indexes[0]).toBeGreaterThan(BigInt(last.index));
    expect(indexes[1]).toBeGreaterThan(indexes[0]);
    expect(indexes[2]).toBeGreaterThan(indexes[1]);
  }, 60_000);
});

