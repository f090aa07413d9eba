import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { makeTestPki, type TestPki } from "../support/certs.js";
import { runCli } from "../support/cli-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "cli-tls-admin-0123456789abcdef";
// Each CLI run is a fresh Node process compiling TypeScript through tsx: a ceiling against hangs only.
const CEILING = 180_000;

describe("the capstan CLI over TLS (--ca, --cert, --key)", () => {
  const dir = mkdtempSync(join(tmpdir(), "capstan-cli-tls-"));
  const config = join(dir, "config");
  let pki: TestPki;
  let server: TestServer;
  let url = "";

  beforeAll(async () => {
    pki = makeTestPki();
    server = await startTestServer({
      DATABASE_URL: `file:${join(dir, "c.db")}`,
      CAPSTAN_DEV: "0",
      CAPSTAN_ADMIN_TOKEN: ADMIN,
      TLS_CERT: pki.serverCert,
      TLS_KEY: pki.serverKey,
      TLS_CLIENT_CA: pki.caCert,
    });
    url = `https://localhost:${server.app.port}`;
  }, CEILING);
  afterAll(() => server?.stop());

  it("refuses a server whose certificate it cannot verify, and trusts it with --ca, over gRPC and Connect", async () => {
    const untrusted = await runCli(["--server", url, "--token", ADMIN, "whoami"], { XDG_CONFIG_HOME: config });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/certificate/i);
    for (const protocol of ["grpc", "connect"]) {
      const r = await runCli(["--server", url, "--token", ADMIN, "--ca", pki.caCert, "--protocol", protocol, "whoami"], { XDG_CONFIG_HOME: config });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/kind:\s+operator/);
    }
  }, CEILING);

  it("login keeps the TLS files (absolute paths) in the context, and later calls trust the server through them", async () => {
    const client = pki.client("operator-laptop");
    const login = await runCli(["login", "--server", url, "--token", ADMIN, "--ca", pki.caCert, "--cert", client.cert, "--key", client.key, "--name", "tls"], { XDG_CONFIG_HOME: config });
    expect(login.code, login.stderr).toBe(0);
    const saved = parse(readFileSync(join(config, "capstan", "config.yaml"), "utf8")) as { contexts: Array<Record<string, string>> };
    expect(saved.contexts.find((c) => c.name === "tls")).toMatchObject({ server: url, ca: pki.caCert, cert: client.cert, key: client.key });
    const nodes = await runCli(["nodes", "-o", "json"], { XDG_CONFIG_HOME: config });
    expect(nodes.code).toBe(0);
    expect(JSON.parse(nodes.stdout)).toMatchObject({ nodes: [] });
  }, CEILING);

  it("names the missing half of a client certificate", async () => {
    const r = await runCli(["--server", url, "--token", ADMIN, "--ca", pki.caCert, "--cert", pki.client("half").cert, "whoami"], { XDG_CONFIG_HOME: join(dir, "none") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--key: --cert and --key go together");
  }, CEILING);
});
