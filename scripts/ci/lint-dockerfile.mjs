#!/usr/bin/env node
// Lints the Dockerfile without a Docker engine (CI has none), as `npm run lint:docker`:
// 1. dockerfile-utils' validator (the checker behind VS Code's Docker support:
//    instruction syntax, flags, ports, JSON forms), with warnings counted as errors;
// 2. what only this repository can tell: every COPY source from the build
//    context exists and is not excluded by .dockerignore, and the final stage
//    runs as a non-root user and has a HEALTHCHECK.
// Usage: node scripts/ci/lint-dockerfile.mjs [Dockerfile]
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { validate } from "dockerfile-utils";

const file = process.argv[2] ?? "Dockerfile";
const context = dirname(file);
const text = readFileSync(file, "utf8");
const problems = [];

for (const d of validate(text)) {
  const { line, character } = d.range.start;
  problems.push(`${file}:${line + 1}:${character + 1}: ${d.severity === 2 ? "warning" : "error"}: ${d.message}`);
}

// Instructions with their first line number; continuation lines joined, comments dropped.
const instructions = [];
let pending = null;
text.split("\n").forEach((raw, i) => {
  const line = raw.trim();
  if (pending === null && (line === "" || line.startsWith("#"))) return;
  if (pending !== null && line.startsWith("#")) return;
  const body = line.endsWith("\\") ? line.slice(0, -1) : line;
  pending = pending === null ? { line: i + 1, text: body } : { ...pending, text: `${pending.text} ${body}` };
  if (!line.endsWith("\\")) {
    const [keyword, ...args] = pending.text.trim().split(/\s+/);
    instructions.push({ line: pending.line, keyword: keyword.toUpperCase(), args });
    pending = null;
  }
});

const ignoreFile = join(context, ".dockerignore");
const ignored = existsSync(ignoreFile)
  ? readFileSync(ignoreFile, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#") && !l.startsWith("!"))
      .map((p) => new RegExp(`^${p.replace(/^\/+|\/+$/g, "").replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*+/g, "[^/]*").replace(/\?/g, "[^/]")}(/|$)`))
  : [];

for (const ins of instructions.filter((i) => i.keyword === "COPY" || i.keyword === "ADD")) {
  const args = ins.args.filter((a) => !a.startsWith("--"));
  if (ins.args.some((a) => a.startsWith("--from=")) || args.length < 2) continue;
  for (const src of args.slice(0, -1)) {
    const path = relative(context, join(context, src)) || ".";
    if (!existsSync(join(context, src))) problems.push(`${file}:${ins.line}: ${ins.keyword} source ${src} does not exist`);
    else if (ignored.some((re) => re.test(path))) problems.push(`${file}:${ins.line}: ${ins.keyword} source ${src} is excluded by .dockerignore`);
  }
}

const lastFrom = instructions.findLastIndex((i) => i.keyword === "FROM");
const finalStage = instructions.slice(lastFrom);
const user = finalStage.findLast((i) => i.keyword === "USER");
if (!user || /^(root|0)(:|$)/.test(user.args[0] ?? "")) problems.push(`${file}: the final stage must switch to a non-root USER`);
if (!finalStage.some((i) => i.keyword === "HEALTHCHECK")) problems.push(`${file}: the final stage has no HEALTHCHECK`);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`${file}: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`${file}: ok (${instructions.length} instructions)`);
