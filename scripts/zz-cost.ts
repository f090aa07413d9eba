import pino from "pino";
import { openDatabase } from "../src/store/database.js";
import { createTestDatabase } from "../test/support/providers.js";
const t = await createTestDatabase("postgresql");
const a = await openDatabase(t.url, pino({ level: "warn" }), { replicaId: "a" });
const row = (i: number) => ({ id: `m${i}`, name: `m${i}`, address: "", labels: "{}", tags: "[]", capabilities: "{}", ports: "{}", status: "online", eligibility: "eligible", draining: false, agentVersion: "", tokenHash: `h${i}`, anonymous: false, agentKind: "grpc", metrics: null, lastHeartbeatAt: new Date(), createdAt: new Date(), updatedAt: new Date() });
async function time(label: string, par: number, n: number, fn: (i: number) => Promise<unknown>) {
  const t0 = performance.now(); let k = 0;
  await Promise.all(Array.from({ length: par }, async () => { while (k < n) await fn(k++); }));
  const ms = performance.now() - t0;
  console.log(`${label}, ${par} writer(s): ${(n / (ms / 1000)).toFixed(0)} writes/s (${(ms / n * par).toFixed(1)} ms each)`);
}
const p = a.prisma;
for (const par of [1, 8]) {
  await time("plain upsert (no feed)", par, 200, (i) => p.node.upsert({ where: { id: `m${i}` }, create: row(i), update: row(i) }));
  await time("interactive tx, upsert only (no feed)", par, 200, (i) => p.$transaction(async (tx) => tx.node.upsert({ where: { id: `m${i}` }, create: row(i), update: row(i) })));
  await time("store upsert with its change row", par, 200, (i) => Promise.resolve().then(() => a.nodes.upsert({ id: `m${i}`, name: `m${i}`, address: "", labels: {}, tags: [], capabilities: {} as never, ports: {}, status: "online", eligibility: "eligible", draining: false, agentVersion: "", tokenHash: `h${i}`, anonymous: false, agentKind: "grpc", metrics: undefined, lastHeartbeatAt: new Date(), createdAt: new Date(), updatedAt: new Date() })));
}
await a.close(); await t.drop();
