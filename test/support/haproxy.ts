import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { httpRequest } from "./http.js";

/** Debian's HAProxy, installed by scripts/ci/haproxy.sh. */
export const HAPROXY = "/usr/sbin/haproxy";
/** The configuration the tests share with deployments. */
export const HAPROXY_CONFIG = fileURLToPath(new URL("../../deploy/haproxy.cfg", import.meta.url));

/** A running HAProxy in front of Capstan servers. */
export interface HaproxyProcess {
  /** http://127.0.0.1:port of HAProxy's frontend. */
  readonly url: string;
  readonly logs: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts HAProxy (foreground, -db) with deploy/haproxy.cfg in front of the
 * given backends ("host:port", at most three), and resolves once a request
 * through it reaches a backend. Fails, never skips, when HAProxy is missing.
 */
export async function startHaproxy(backends: string[]): Promise<HaproxyProcess> {
  if (!existsSync(HAPROXY)) throw new Error(`${HAPROXY} is missing: run scripts/ci/haproxy.sh`);
  const port = await freePort();
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", CAPSTAN_LISTEN: `127.0.0.1:${port}` };
  backends.forEach((b, i) => (env[`CAPSTAN_BACKEND_${i + 1}`] = b));
  const child = spawn(HAPROXY, ["-db", "-f", HAPROXY_CONFIG], { env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => logs.push(l));
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(l));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}):\n${logs.join("\n")}`);
    const ok = await httpRequest(`${url}/health`).then((a) => a.status === 200, () => false);
    if (ok) return { url, logs, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not pass requests within 20 s:\n${logs.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port free a moment ago (HAProxy cannot report the port it picked for 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
