/**
 * bench:store-writes — node registrations written through the store by W
 * concurrent writers (as agents connecting at once do), each write a
 * transaction with its change-feed row, against the same rows written as plain
 * upserts without a feed row (the baseline, what a write cost before the feed)
 * in the same run. Prints writes/s for each and their ratio. SQLite by
 * default; PostgreSQL with BENCH_DATABASE_URL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { emptyCapabilities, type Node } from "../src/model/node.js";
import { openDatabase, type Database } from "../src/store/database.js";

const WRITES = Number(process.env.WRITES ?? 3000);
const WRITERS = (process.env.WRITERS ?? "1,8,64").split(",").map(Number);

function node(i: number, run: string): Node {
  const now = new Date();
  return {
    id: `${run}-${i}`, name: `${run}-${i}`, address: "10.0.0.1", labels: { zone: "a" }, tags: [], capabilities: emptyCapabilities(), ports: {},
    status: "online", eligibility: "eligible", draining: false, agentVersion: "bench", tokenHash: `h${i}`, anonymous: false, agentKind: "grpc",
    metrics: undefined, lastHeartbeatAt: now, createdAt: now, updatedAt: now,
  };
}

async function rate(writers: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < WRITES) await write(next++);
  }));
  return WRITES / ((performance.now() - started) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), "capstan-bench-writes-"));
const db: Database = await openDatabase(process.env.BENCH_DATABASE_URL ?? `file:${join(dir, "w.db")}`, pino({ level: "warn" }));
console.log(`bench:store-writes  ${WRITES} node registrations per row, ${db.provider}`);
for (const w of WRITERS) {
  const run = `w${w}`;
  const feed = await rate(w, (i) => db.nodes.insert(node(i, `${run}f`)));
  const plain = await rate(w, (i) => {
    const n = node(i, `${run}p`);
    const { metrics: _m, ...rest } = n;
    return db.prisma.node.create({ data: { ...rest, labels: JSON.stringify(n.labels), tags: "[]", capabilities: JSON.stringify(n.capabilities), ports: "{}", metrics: null } });
  });
  console.log(`  ${String(w).padStart(3)} writers   with feed row ${feed.toFixed(0).padStart(6)}/s   plain insert ${plain.toFixed(0).padStart(6)}/s   ratio ${(feed / plain).toFixed(2)}`);
}
await db.close();
rmSync(dir, { recursive: true, force: true });
