import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

describe("one server process per SQLite file", () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), "capstan-lock-")), "c.db");
  const started: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  it("refuses a second process on the same file, naming the holder and the way out", async () => {
    const first = await startServerProcess({ dbPath });
    started.push(first);
    const second = await startServerProcess({ dbPath, startTimeoutMs: 30_000 }).then(
      (s) => {
        started.push(s);
        return "started";
      },
      (err: Error) => err.message,
    );
    expect(second).toMatch(/exit 2/);
    expect(second).toContain(`the SQLite database ${dbPath} is in use by another Capstan process`);
    expect(second).toMatch(/pid \d+ on /);
    expect(second).toContain("DATABASE_URL=postgresql://");
    // The first one is unaffected.
    expect(first.alive()).toBe(true);
    expect((await fetch(`${first.url}/health`)).status).toBe(200);
  });

  it("starts at once after the holder crashed (the operating system released the lock)", async () => {
    const holder = started.pop() as ServerProcess;
    await holder.kill("SIGKILL");
    const next = await startServerProcess({ dbPath });
    started.push(next);
    expect((await fetch(`${next.url}/health`)).status).toBe(200);
  });
});
