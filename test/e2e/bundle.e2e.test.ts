import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { Module } from "node:module";
import vm from "node:vm";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { createTestDatabase, providers, type TestDatabase } from "../support/providers.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Two levels below the repository, as dist/server is: the bundle finds prisma/ and package.json from there.
const OUT = join("dist", `bundle-test-${process.pid}`);

// `npm start` runs the server's esbuild bundle (scripts/bundle.mjs), not the sources the other
// tests run through tsx: build one here and check that everything that loads late still loads
// from it (each provider's client, migrations, docs assets, every protocol).
describe("the bundled server (what npm start runs)", () => {
  beforeAll(() => {
    const built = spawnSync(process.execPath, ["scripts/bundle.mjs", OUT], { cwd: ROOT, encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(join(ROOT, OUT), { recursive: true, force: true }));

  it("ships each query compiler as a .wasm file, not as a base64 module to decode at start-up", () => {
    const files = readdirSync(join(ROOT, OUT));
    expect(files).toEqual(expect.arrayContaining(["query_compiler_small_bg.sqlite.wasm", "query_compiler_small_bg.postgresql.wasm"]));
    // The bundle itself is about 1.6 MB; with the base64 compilers it was over 6 MB.
    expect(statSync(join(ROOT, OUT, "main.cjs")).size).toBeLessThan(3_000_000);
  });

  it("writes V8's code cache for the bundle, which this Node accepts", () => {
    const file = join(ROOT, OUT, "main.cjs");
    const script = new vm.Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData: readFileSync(`${file}.cache`) });
    expect(script.cachedDataRejected).toBe(false);
  });

  describe.each(providers())("on %s", (provider) => {
    let db: TestDatabase;
    let server: ServerProcess;
    beforeAll(async () => {
      db = await createTestDatabase(provider);
      // As the image runs it: the loader beside the bundle, with the code cache.
      server = await startServerProcess({ entry: [join(OUT, "load-bundle.mjs")], env: { DATABASE_URL: db.url } });
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
      await db?.drop();
    });
    const auth = () => ({ authorization: `Bearer ${server.adminToken}` });

    it("creates the database and answers health", async () => {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { database: string; database_provider: string };
      expect(health).toMatchObject({ database: "ok", database_provider: provider });
    });

    it("serves a node written over REST to gRPC and Connect clients", async () => {
      const res = await fetch(`${server.url}/api/v1/nodes`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth() },
        body: JSON.stringify({ node_id: "bundled", address: "10.0.0.9", p2p_port: 7000, http_port: 8000 }),
      });
      expect(res.status).toBe(201);
      for (const transport of [createGrpcTransport({ baseUrl: server.url }), createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })]) {
        const node = await createClient(NodeService, transport).getNode({ nodeId: "bundled" }, { headers: auth() });
        expect(node.node?.id).toBe("bundled");
      }
    });

    it("serves the API docs and their assets", async () => {
      const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(spec.paths)).toContain("/api/v1/nodes");
      const docs = await (await fetch(`${server.url}/docs`)).text();
      const asset = /src="([^"]+\.js)"/.exec(docs)?.[1];
      expect(asset).toBeDefined();
      expect((await fetch(new URL(asset!, `${server.url}/docs/`))).status).toBe(200);
    });
  });
});
