/**
 * Writes prisma/<provider>/schema.prisma from prisma/models.prisma and
 * generates each provider's client under gen/prisma/<provider>, with no
 * network (Prisma's generate never runs the schema engine; it only insists
 * one is named). With --check, changes nothing and fails when anything
 * generated is out of date: CI runs that.
 *
 *   node --import tsx scripts/prisma-sync.ts [--check]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROVIDERS, prismaDir, providerSchema } from "../src/store/providers.js";

const check = process.argv.includes("--check");
const root = join(prismaDir(), "..");
const models = readFileSync(join(prismaDir(), "models.prisma"), "utf8");
let stale = false;

for (const provider of PROVIDERS) {
  const schemaPath = join(prismaDir(), provider, "schema.prisma");
  const wanted = providerSchema(provider, models);
  const current = existsSync(schemaPath) ? readFileSync(schemaPath, "utf8") : "";
  const out = join(root, "gen", "prisma", provider);
  if (check) {
    if (current !== wanted) {
      console.error(`prisma/${provider}/schema.prisma is out of date with prisma/models.prisma`);
      stale = true;
      continue;
    }
    // Generate into a scratch copy and compare with the committed client.
    const scratch = mkdtempSync(join(tmpdir(), "capstan-prisma-"));
    mkdirSync(join(scratch, "prisma", provider), { recursive: true });
    writeFileSync(join(scratch, "prisma", provider, "schema.prisma"), wanted);
    generate(join(scratch, "prisma", provider, "schema.prisma"));
    try {
      execFileSync("diff", ["-r", join(scratch, "gen", "prisma", provider), out], { stdio: "pipe" });
    } catch (err) {
      console.error(`gen/prisma/${provider} is out of date:\n${String((err as { stdout?: Buffer }).stdout ?? "").slice(0, 2000)}`);
      stale = true;
    }
    rmSync(scratch, { recursive: true, force: true });
  } else {
    mkdirSync(join(prismaDir(), provider), { recursive: true });
    writeFileSync(schemaPath, wanted);
    rmSync(out, { recursive: true, force: true });
    generate(schemaPath);
    console.log(`generated gen/prisma/${provider}`);
  }
}

if (stale) {
  console.error("run `npm run prisma:sync` and commit the result");
  process.exit(1);
}
if (check) console.log("prisma schemas and clients are in sync with prisma/models.prisma");

function generate(schema: string): void {
  execFileSync(join(root, "node_modules", ".bin", "prisma"), ["generate", "--schema", schema], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false", PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" },
  });
}
