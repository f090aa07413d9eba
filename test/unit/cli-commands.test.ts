import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram, main } from "../../src/cli/main.js";

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), env: {} }, out, err };
}

function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.filter((c) => c.name() !== "help").flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

const all = paths(buildProgram(io().io));

describe("capstan --help", () => {
  it("covers the commands issue 14 asks for (events -f waits for the event stream)", () => {
    const names = all.map((p) => p.join(" "));
    for (const want of ["login", "nodes", "node get", "node history", "node drain", "node eligibility", "node rm", "deploy", "deployments", "deployment get", "deployment rm", "rollback", "apply", "services", "service get", "explain", "jobs", "job get", "job cancel", "logs", "run", "tasks", "task get", "task cancel", "chunks locate", "chunks metrics", "token create", "token ls", "token revoke", "whoami", "audit", "completion"]) {
      expect(names).toContain(want);
    }
  });
  it.each(all.map((p) => [p.join(" ")]))("capstan %s --help exits 0 with its usage", async (path) => {
    const t = io();
    expect(await main([...path.split(" "), "--help"], t.io)).toBe(0);
    expect(t.out.join("")).toContain(`Usage: capstan ${path}`);
  });
  it("exits 2 naming the problem for a missing argument", async () => {
    const t = io();
    expect(await main(["node", "get"], t.io)).toBe(2);
    expect(t.err.join("")).toContain("missing required argument 'node'");
  });
  it("exits 2 naming the variable when no server is known", async () => {
    const t = io();
    expect(await main(["nodes"], { ...t.io, env: { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "capstan-cfg-")) } })).toBe(2);
    expect(t.err.join("")).toContain("--server: required (or CAPSTAN_SERVER");
  });
});

describe("capstan completion", () => {
  // Runs bash's own completion machinery on the generated script.
  const complete = (line: string): string[] => {
    const t = io();
    void main(["completion", "bash"], t.io);
    const dir = mkdtempSync(join(tmpdir(), "capstan-completion-"));
    const script = join(dir, "capstan.bash");
    writeFileSync(script, t.out.join(""));
    const words = line.split(" ");
    const probe = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}; _capstan_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync("bash", ["-c", probe], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
  };
  it.each([
    { line: "capstan no", want: ["node", "nodes"] },
    { line: "capstan node ", want: ["--help", "-o", "-s", "-t", "--ca", "--cert", "--context", "--key", "--output", "--protocol", "--server", "--token", "--version", "drain", "eligibility", "get", "history", "rm"] },
    { line: "capstan --server http://x deploy --", want: ["--env", "--file", "--help", "--name", "--node", "--wait", "--ca", "--cert", "--context", "--key", "--output", "--protocol", "--server", "--token", "--version"] },
    { line: "capstan -o json chunks l", want: ["locate"] },
  ])("completes '$line'", ({ line, want }) => {
    expect(complete(line)).toEqual([...want].sort());
  });
  it("offers zsh the same through bashcompinit", async () => {
    const t = io();
    expect(await main(["completion", "zsh"], t.io)).toBe(0);
    expect(t.out.join("")).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n/);
    expect(await main(["completion", "fish"], io().io)).toBe(2);
  });
});
