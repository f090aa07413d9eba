/**
 * bench:api — GetNode, ListNodes (1,000 nodes) and Heartbeat, over Connect
 * JSON on HTTP/1.1 (wrk) and gRPC on h2c (h2load), against Capstan and against
 * a bare connect-node handler that answers a constant message of the same
 * shape, measured in the same run. Goal: Capstan at 0.8 or more of the bare
 * handler's requests/s. Needs wrk and h2load (scripts/ci/bench-tools.sh).
 * Capstan's calls carry an admin bearer token, so authentication and the
 * access policy are measured too; the per-client rate limit is off
 * (RATE_LIMIT=0), since one load generator is one client.
 *
 * The cost of Prometheus metrics: a second Capstan with METRICS=off, in the
 * same process and run, measured alternately with the first (metrics on);
 * goal: on ≥ 0.95 × off on every row. Both apps share the process, so
 * prom-client's process-wide collectors (event loop delay, GC) run during
 * both; what differs is all the per-call recording.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import {
  GetNodeRequestSchema,
  HeartbeatRequestSchema,
  ListNodesRequestSchema,
  NodeService,
  type GetNodeResponse,
  type ListNodesResponse,
} from "../gen/proto/capstan/v1/node_service_pb.js";
import { startApp } from "../src/app/app.js";
import { loadConfig } from "../src/config/config.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { grpcFrame, h2loadGrpc, wrkPost } from "./load-tools.js";

const NODES = 1000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const H2_REQUESTS = Number(process.env.BENCH_H2_REQUESTS ?? 20_000);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "capstan-bench-api-"));
  const token = randomBytes(24).toString("base64url");
  const auth = { authorization: `Bearer ${token}` };
  const start = (name: string, metrics: string) =>
    startApp(
      loadConfig(
        { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: `file:${join(dir, `${name}.db`)}`, HEARTBEAT_TTL: "1h", LOG_LEVEL: "warn", CAPSTAN_ADMIN_TOKEN: token, RATE_LIMIT: "0", METRICS: metrics },
        false,
      ),
      pino({ level: "warn" }),
    );
  const app = await start("c", "on");
  const appOff = await start("off", "off");
  const clientOf = (url: string) => createClient(NodeService, createGrpcTransport({ baseUrl: url, interceptors: [(next) => (req) => (req.header.set("authorization", auth.authorization), next(req))] }));
  const client = clientOf(app.url);
  for (const c of [client, clientOf(appOff.url)]) {
    for (let i = 0; i < NODES; i++) {
      await c.registerNode({ nodeId: `node-${String(i).padStart(4, "0")}`, name: `node-${i}`, address: `10.0.${i >> 8}.${i & 255}`, labels: { zone: `z${i % 4}` }, tags: ["docker"] });
    }
  }
  // The bare handler answers with exactly what Capstan answers, captured once.
  const one: GetNodeResponse = await client.getNode({ nodeId: "node-0001" });
  const all: ListNodesResponse = await client.listNodes({ pageSize: 1000 });
  const routes = (r: ConnectRouter) =>
    r.service(NodeService, {
      getNode: () => one,
      listNodes: () => all,
      heartbeat: () => ({ status: "ok", timestamp: 0, nodeStatus: 1 }),
    });
  const handler = connectNodeAdapter({ routes });
  const bareH1 = http.createServer(handler).listen(0, "127.0.0.1");
  const bareH2 = http2.createServer({}, handler).listen(0, "127.0.0.1");
  await new Promise((r) => setTimeout(r, 100));
  const bare1 = `http://127.0.0.1:${(bareH1.address() as AddressInfo).port}`;
  const bare2 = `http://127.0.0.1:${(bareH2.address() as AddressInfo).port}`;

  const cases = [
    { rpc: "GetNode", json: JSON.stringify({ nodeId: "node-0001" }), bin: toBinary(GetNodeRequestSchema, create(GetNodeRequestSchema, { nodeId: "node-0001" })) },
    { rpc: "ListNodes", json: JSON.stringify({ pageSize: 1000 }), bin: toBinary(ListNodesRequestSchema, create(ListNodesRequestSchema, { pageSize: 1000 })), h2n: H2_REQUESTS / 20 },
    { rpc: "Heartbeat", json: JSON.stringify({ nodeId: "node-0001", cpuUsage: 12.5, memUsage: 40 }), bin: toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { nodeId: "node-0001", cpuUsage: 12.5, memUsage: 40 })) },
  ];
  const rows: string[] = [];
  const costRows: string[] = [];
  let worst = Infinity;
  let worstCost = Infinity;
  for (const c of cases) {
    const path = `/capstan.v1.NodeService/${c.rpc}`;
    // Warm both up first: they share one process, and whichever ran first would pay for the JIT.
    await wrkPost(app.url + path, c.json, 1, undefined, auth);
    await wrkPost(bare1 + path, c.json, 1);
    // Alternate the two, ROUNDS times, and take medians: the machine is noisy.
    const n = c.h2n ?? H2_REQUESTS;
    await wrkPost(appOff.url + path, c.json, 1, undefined, auth);
    const [capH1, offH1] = await medians(() => wrkPost(app.url + path, c.json, SECONDS, undefined, auth), () => wrkPost(appOff.url + path, c.json, SECONDS, undefined, auth));
    const bareH1rps = await median(() => wrkPost(bare1 + path, c.json, SECONDS));
    const [capH2, offH2] = await medians(
      () => h2loadGrpc(app.url + path, grpcFrame(c.bin), n, undefined, undefined, auth),
      () => h2loadGrpc(appOff.url + path, grpcFrame(c.bin), n, undefined, undefined, auth),
    );
    const bareH2rps = await median(() => h2loadGrpc(bare2 + path, grpcFrame(c.bin), n));
    for (const [proto, cap, bare, off] of [["Connect JSON / HTTP/1.1 (wrk)", capH1, bareH1rps, offH1], ["gRPC / h2c (h2load)", capH2, bareH2rps, offH2]] as const) {
      const ratio = cap / bare;
      worst = Math.min(worst, ratio);
      rows.push(`  ${c.rpc.padEnd(10)} ${proto.padEnd(30)} capstan ${fmt(cap).padStart(8)} req/s   bare ${fmt(bare).padStart(8)} req/s   ratio ${ratio.toFixed(2)}`);
      worstCost = Math.min(worstCost, cap / off);
      costRows.push(`  ${c.rpc.padEnd(10)} ${proto.padEnd(30)} metrics on ${fmt(cap).padStart(8)} req/s   off ${fmt(off).padStart(8)} req/s   on/off ${(cap / off).toFixed(3)}`);
    }
  }
  console.log(`bench:api  ${NODES} nodes registered; median of ${ROUNDS} runs; ${SECONDS}s per wrk run, ${H2_REQUESTS} requests per h2load run (ListNodes: 1/20 of that)`);
  for (const r of rows) console.log(r);
  console.log(`  goal: capstan ≥ 0.8 × bare on every row: ${worst >= 0.8 ? "met" : "NOT met"} (worst ratio ${worst.toFixed(2)})`);
  console.log("bench:api  Prometheus metrics on (METRICS=on, the rows above) against off (METRICS=off), same process, alternating runs");
  for (const r of costRows) console.log(r);
  console.log(`  goal: metrics on ≥ 0.95 × off on every row: ${worstCost >= 0.95 ? "met" : "NOT met"} (worst on/off ${worstCost.toFixed(3)})`);
  bareH1.close();
  bareH2.close();
  await app.close();
  await appOff.close();
}

/** Runs two measurements alternately, ROUNDS times each, and returns their medians (a noisy machine drifts alike for both). */
async function medians(a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which goes first, so neither always follows the other.
    if (i % 2 === 0) xs.push(await a()), ys.push(await b());
    else ys.push(await b()), xs.push(await a());
  }
  const mid = (v: number[]) => v.sort((p, q) => p - q)[Math.floor(v.length / 2)];
  return [mid(xs), mid(ys)];
}

/** Runs a measurement ROUNDS times and returns the median. */
async function median(measure: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) xs.push(await measure());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
