import { describe, expect, it } from "vitest";
import { JobStatus } from "../../gen/proto/capstan/v1/job_pb.js";
import { TokenScope } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { parseConfigDocument } from "../../src/cli/commands/services.js";
import { allPages } from "../../src/cli/kit.js";
import { age, enumName, labels, parseEnum, table } from "../../src/cli/output.js";
import { fieldDiff, planDiff, type PlanChange } from "../../src/cli/plan-diff.js";

describe("table", () => {
  it.each([
    {
      name: "aligns every column to its widest cell, no trailing spaces",
      rows: [{ a: "x", b: "long value" }, { a: "longer", b: "" }],
      want: "A       B\nx       long value\nlonger\n",
    },
    { name: "prints only the headings for no rows", rows: [], want: "A  B\n" },
    { name: "keeps a multi-line cell on one line", rows: [{ a: "one\ntwo", b: "z" }], want: "A        B\none two  z\n" },
  ])("$name", ({ rows, want }) => {
    expect(
      table(rows as Array<{ a: string; b: string }>, [
        { header: "A", value: (r) => r.a },
        { header: "B", value: (r) => r.b },
      ]),
    ).toBe(want);
  });
});

describe("cells", () => {
  it.each([
    { seconds: 0, want: "0s" },
    { seconds: 119, want: "119s" },
    { seconds: 120, want: "2m" },
    { seconds: 7199, want: "119m" },
    { seconds: 7200, want: "2h" },
    { seconds: 172_800, want: "2d" },
  ])("age of $seconds s is $want", ({ seconds, want }) => {
    const now = 1_700_000_000_000;
    expect(age({ seconds: BigInt(now / 1000 - seconds), nanos: 0 } as never, now)).toBe(want);
  });
  it("sorts labels by key", () => expect(labels({ zone: "a", arch: "x86" })).toBe("arch=x86,zone=a"));
  it("shows no labels as -", () => expect(labels({})).toBe("-"));
  it.each([
    { value: JobStatus.IN_PROGRESS, want: "in_progress" },
    { value: JobStatus.UNSPECIFIED, want: "-" },
  ])("names enum value $value $want", ({ value, want }) => expect(enumName(JobStatus, value, "JOB_STATUS_")).toBe(want));
  it.each(["in_progress", "IN_PROGRESS", "in-progress", "JOB_STATUS_IN_PROGRESS"])("parses %s", (text) =>
    expect(parseEnum("--status", JobStatus, "JOB_STATUS_", text)).toBe(JobStatus.IN_PROGRESS),
  );
  it("refuses an unknown enum name, naming the flag and the choices", () =>
    expect(() => parseEnum("--scope", TokenScope, "TOKEN_SCOPE_", "root")).toThrow('--scope: "root" is not one of read, write, admin'));
});

describe("planDiff", () => {
  const change = (c: Partial<PlanChange>): PlanChange => ({ serviceName: "web", action: "create", fromReplicas: 0, toReplicas: 1, placements: {}, unplaced: [], ...c });
  it.each([
    { name: "no changes", changes: [], want: "no changes\n" },
    {
      name: "a created service with where its replicas go",
      changes: [change({ toReplicas: 2, placements: { "2": "n2", "1": "n1" } })],
      want: "+ web (create, replicas 0 -> 2)\n    new replicas on: n1, n2\n",
    },
    {
      name: "an unplaced replica",
      changes: [change({ unplaced: ["0 of 1 placed: no node has the gpu tag"] })],
      want: "+ web (create, replicas 0 -> 1)\n    ! unplaced: 0 of 1 placed: no node has the gpu tag\n",
    },
    { name: "a deleted and an unchanged service", changes: [change({ action: "delete", fromReplicas: 3, toReplicas: 0 }), change({ serviceName: "db", action: "unchanged", fromReplicas: 1 })], want: "- web (delete, replicas 3 -> 0)\n= db (unchanged, replicas 1 -> 1)\n" },
    {
      name: "an update with the fields that change",
      changes: [change({ action: "update", fromReplicas: 1, toReplicas: 1 })],
      want: "~ web (update, replicas 1 -> 1)\n    - command: \"a\"\n    + command: \"b\"\n",
    },
  ])("$name", ({ changes, want }) => {
    const current = new Map([["web", { name: "web", command: "a", replicas: 1, status: "running" }]]);
    const wanted = new Map([["web", { name: "web", command: "b", replicas: 1 }]]);
    expect(planDiff(changes, current, wanted)).toBe(want);
  });
  it.each([
    { name: "env by key, never by value", before: { env: { A: "[redacted]", B: "[redacted]" } }, after: { env: { B: "x", C: "y" } }, want: ["+ env: C", "- env: A"] },
    { name: "objects whatever their key order", before: { resources: { cpu: 1, memory: 2 } }, after: { resources: { memory: 2, cpu: 1 } }, want: [] },
    { name: "a field the stored service lacks", before: {}, after: { image: "nginx" }, want: ['+ image: "nginx"'] },
    { name: "ignores fields only the server has", before: { id: "x", status: "running" }, after: {}, want: [] },
  ])("fieldDiff compares $name", ({ before, after, want }) => expect(fieldDiff(before, after)).toEqual(want));
});

describe("parseConfigDocument", () => {
  it("reads an orion/v1 YAML document, turning YAML numbers in env and labels into strings", () => {
    const req = parseConfigDocument(
      "orion.yaml",
      "apiVersion: orion/v1\nkind: Config\nmetadata: {name: demo, environment: dev}\nspec:\n  services:\n    - name: api\n      replicas: 2\n      env: {PORT: 3000, DEBUG: true}\n      labels: {tier: 1}\n  nodes: []\n  plugins: []\n",
    );
    expect(req.apiVersion).toBe("orion/v1");
    expect(req.spec?.services[0]).toMatchObject({ name: "api", replicas: 2, env: { PORT: "3000", DEBUG: "true" }, labels: { tier: "1" } });
  });
  it("reads the same document as JSON", () => {
    const req = parseConfigDocument("orion.json", JSON.stringify({ apiVersion: "orion/v1", kind: "Config", spec: { services: [{ name: "api" }] } }));
    expect(req.spec?.services.map((s) => s.name)).toEqual(["api"]);
  });
  it.each([
    { name: "an unknown key, named", text: "apiVersion: orion/v1\nspec:\n  services:\n    - name: api\n      replica: 2\n", want: /orion.yaml: .*replica/ },
    { name: "two documents", text: "kind: Config\n---\nkind: Config\n", want: "holds 2 documents" },
    { name: "a list", text: "- a\n", want: "not a mapping" },
    { name: "broken YAML", text: "spec: [\n", want: "orion.yaml:" },
  ])("refuses $name", ({ text, want }) => expect(() => parseConfigDocument("orion.yaml", text)).toThrow(want));
});

describe("allPages", () => {
  it.each([
    { name: "one page", pages: [["a", "b"]], want: ["a", "b"] },
    { name: "three pages, in order", pages: [["a"], ["b", "c"], ["d"]], want: ["a", "b", "c", "d"] },
    { name: "an empty list", pages: [[]], want: [] },
  ])("gathers $name, following each next_page_token", async ({ pages, want }) => {
    const asked: string[] = [];
    const fetch = async (token: string) => {
      asked.push(token);
      const i = token === "" ? 0 : Number(token);
      return { items: pages[i], nextPageToken: i + 1 < pages.length ? String(i + 1) : "" };
    };
    const last = await allPages(fetch, (r) => r.items, (r, all) => (r.items = all));
    expect(last).toEqual({ items: want, nextPageToken: "" });
    expect(asked).toEqual(pages.map((_, i) => (i === 0 ? "" : String(i))));
  });
});
