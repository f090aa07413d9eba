import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startAgent, type AgentProcess } from "../support/agent-process.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const JOIN = "join-token-0123456789abcdef";

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("capstan-agent with several server URLs", () => {
  const started: Array<ServerProcess | AgentProcess> = [];
  afterEach(async () => {
    for (const p of started.splice(0).reverse()) await p.stop();
  });

  it("skips a URL where nothing answers and connects to the next (comma list)", async () => {
    const server = await startServerProcess({ env: { CAPSTAN_JOIN_TOKEN: JOIN } });
    started.push(server);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const agent = startAgent(["--server", `${dead},${server.url}`, "--join-token", JOIN, "--state-dir", mkdtempSync(join(tmpdir(), "agent-")), "--max-backoff", "1000"]);
    started.push(agent);
    await eventually(() => agent.output().includes("connected to control plane") && agent.output().includes(server.url), 30_000, "the agent connected to the live URL");
  });

  it("moves to the next URL (repeated --server) when the server it holds a stream to dies", async () => {
    const [a, b] = [await startServerProcess({ env: { CAPSTAN_JOIN_TOKEN: JOIN } }), await startServerProcess({ env: { CAPSTAN_JOIN_TOKEN: JOIN } })];
    started.push(a, b);
    const agent = startAgent(["--server", a.url, "--server", b.url, "--join-token", JOIN, "--state-dir", mkdtempSync(join(tmpdir(), "agent-")), "--max-backoff", "1000"]);
    started.push(agent);
    await eventually(() => connectedTo(agent).includes(a.url), 30_000, "connected to the first URL");
    await a.kill("SIGKILL");
    await eventually(() => connectedTo(agent).includes(b.url), 30_000, "connected to the second URL");
    expect(connectedTo(agent)[0]).toBe(a.url);
  });
});

/** The servers the agent logged connecting to, in order. */
function connectedTo(agent: AgentProcess): string[] {
  return agent.output().split("\n").flatMap((line) => {
    try {
      const e = JSON.parse(line) as { msg?: string; server?: string };
      return e.msg === "connected to control plane" && e.server ? [e.server] : [];
    } catch {
      return [];
    }
  });
}
