import { describe, expect, it } from "vitest";
import { ChangeCollector } from "../../src/store/change-log.js";
import type { DbClient } from "../../src/store/db.js";
import { groupCommits, type RunTransaction, type TransactionWork } from "../../src/store/group-commit.js";

/** A transaction runner over a client that only records statements: what groupCommits asks of the store. */
function fakeStore(options: { failCommit?: boolean } = {}) {
  const statements: string[] = [];
  const commits: Array<Array<{ entity: string; key: string }>> = [];
  const client = { $executeRawUnsafe: async (sql: string) => void statements.push(sql) } as unknown as DbClient;
  const run: RunTransaction = async (work) => {
    statements.push("BEGIN");
    const changes = new ChangeCollector();
    const out = await work(client, changes);
    if (options.failCommit) throw new Error("disk I/O error");
    commits.push(changes.list().map(({ entity, key }) => ({ entity, key })));
    statements.push("COMMIT");
    return out;
  };
  return { run, statements, commits };
}

const write = (key: string, fail = false): TransactionWork<string> => async (_client, changes) => {
  changes.note("node", key, "put");
  if (fail) throw new Error(`bad ${key}`);
  return key;
};

describe("group commit", () => {
  it("a write alone gets a transaction of its own, without savepoints", async () => {
    const store = fakeStore();
    const commit = groupCommits(store.run, 10);
    await expect(commit(write("a"))).resolves.toBe("a");
    expect(store.statements).toEqual(["BEGIN", "COMMIT"]);
    expect(store.commits).toEqual([[{ entity: "node", key: "a" }]]);
  });

  it("writes arriving while a transaction is open share the next one, each in a savepoint, and the failed one fails alone", async () => {
    const store = fakeStore();
    const commit = groupCommits(store.run, 10);
    const first = commit(write("a"));
    const rest = [commit(write("b")), commit(write("c", true)), commit(write("d"))];
    const outcomes = await Promise.allSettled([first, ...rest]);
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message))).toEqual(["a", "b", "bad c", "d"]);
    expect(store.commits).toEqual([[{ entity: "node", key: "a" }], [{ entity: "node", key: "b" }, { entity: "node", key: "d" }]]);
    expect(store.statements.slice(2)).toEqual([
      "BEGIN",
      "SAVEPOINT capstan_w0", "RELEASE capstan_w0",
      "SAVEPOINT capstan_w1", "ROLLBACK TO capstan_w1", "RELEASE capstan_w1",
      "SAVEPOINT capstan_w2", "RELEASE capstan_w2",
      "COMMIT",
    ]);
  });

  it("a batch is at most maxBatch writes; the rest go in the next transaction", async () => {
    const store = fakeStore();
    const commit = groupCommits(store.run, 2);
    await Promise.all(["a", "b", "c", "d", "e"].map((k) => commit(write(k))));
    expect(store.commits.map((c) => c.map((n) => n.key))).toEqual([["a"], ["b", "c"], ["d", "e"]]);
  });

  it("a transaction that fails as a whole fails every write in it, and none is answered before the commit", async () => {
    const store = fakeStore({ failCommit: true });
    const commit = groupCommits(store.run, 10);
    const outcomes = await Promise.allSettled(["a", "b", "c"].map((k) => commit(write(k))));
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(outcomes.map((o) => (o as PromiseRejectedResult).reason.message)).toEqual(["disk I/O error", "disk I/O error", "disk I/O error"]);
  });
});
