/**
 * The server side of bench:agents, in its own process so its memory can be
 * measured alone: `capstan` starts Capstan; `capstan-metrics-off` starts it
 * with METRICS=off (what metrics cost); `bare` starts a connect-node
 * AgentService whose stream only welcomes and echoes (the baseline).
 * Prints "port <n>" once listening.
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import http2 from "node:http2";
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { AgentService, AgentStreamResponseSchema, type AgentStreamRequest } from "../gen/proto/capstan/v1/agent_service_pb.js";
import { startApp } from "../src/app/app.js";
import { loadConfig } from "../src/config/config.js";

const kind = process.argv[2];
// bench:agents stops a profiled server with SIGINT, so that --cpu-prof can write its profile.
process.once("SIGINT", () => process.exit(0));
if (kind === "capstan" || kind === "capstan-metrics-off") {
  const dir = mkdtempSync(join(tmpdir(), "capstan-bench-agents-"));
  // The simulated fleet connects from one address, so the per-client rate limit (which would
  // throttle a real NAT full of agents reconnecting at once, by design) is off.
  const config = loadConfig(
    { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: `file:${join(dir, "c.db")}`, HEARTBEAT_TTL: "15s", LOG_LEVEL: "warn", CAPSTAN_ADMIN_TOKEN: process.env.BENCH_ADMIN_TOKEN ?? "", RATE_LIMIT: "0", METRICS: kind === "capstan" ? "on" : "off" },
    false,
  );
  const app = await startApp(config, pino({ level: "warn" }));
  console.log(`port ${app.port}`);
} else {
  const routes = (r: ConnectRouter) =>
    r.service(AgentService, {
      async *agentStream(requests: AsyncIterable<AgentStreamRequest>) {
        for await (const m of requests) {
          if (m.message.case === "hello") yield create(AgentStreamResponseSchema, { message: { case: "welcome", value: { nodeId: m.message.value.name } } });
          else if (m.message.case === "heartbeat") yield create(AgentStreamResponseSchema, { message: { case: "cancel", value: { jobId: "echo" } } });
        }
      },
      listAgents: () => ({ agents: [], total: 0 }),
    });
  const server = http2.createServer({}, connectNodeAdapter({ routes })).listen(0, "127.0.0.1", () => {
    console.log(`port ${(server.address() as AddressInfo).port}`);
  });
}
