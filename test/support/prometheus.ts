import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "./haproxy.js";
import { httpRequest } from "./http.js";

/** Debian's Prometheus, installed by scripts/ci/prometheus.sh. */
export const PROMETHEUS = "/usr/bin/prometheus";

/** One sample of an instant query: its labels and value. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** A running Prometheus scraping one Capstan. */
export interface PrometheusProcess {
  /** http://127.0.0.1:port of Prometheus' own web API. */
  readonly url: string;
  readonly logs: readonly string[];
  /** The scrape configuration it was started with (prometheus.yml). */
  readonly config: string;
  /** An instant query through /api/v1/query. */
  query(expr: string): Promise<Sample[]>;
  /** Polls `query(expr)` until `accept` takes its answer (bounded: 20 s), and returns that answer. */
  waitFor(expr: string, accept: (samples: Sample[]) => boolean): Promise<Sample[]>;
  stop(): Promise<void>;
}

/**
 * Starts a real Prometheus (its own storage directory and a free port) with a
 * generated configuration that scrapes `target` ("127.0.0.1:port") at
 * /metrics every second, sending the bearer token from a file (mode 0600),
 * as a deployment would. Fails, never skips, when Prometheus is missing.
 */
export async function startPrometheus(target: string, token: string): Promise<PrometheusProcess> {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: run scripts/ci/prometheus.sh`);
  const dir = mkdtempSync(join(tmpdir(), "capstan-prom-"));
  const tokenFile = join(dir, "capstan.token");
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "scrape_configs:",
    "  - job_name: capstan",
    "    metrics_path: /metrics",
    "    authorization:",
    "      type: Bearer",
    `      credentials_file: ${tokenFile}`,
    "    static_configs:",
    `      - targets: ["${target}"]`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const port = await freePort();
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => logs.push(l));
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(l));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const query = async (expr: string): Promise<Sample[]> => {
    const a = await httpRequest(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (a.status !== 200 || a.json?.status !== "success") throw new Error(`query ${expr} failed (${a.status}): ${a.text}`);
    return (a.json.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  const waitFor = async (expr: string, accept: (samples: Sample[]) => boolean): Promise<Sample[]> => {
    const deadline = Date.now() + 20_000;
    let last: Sample[] = [];
    while (Date.now() < deadline) {
      last = await query(expr);
      if (accept(last)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`Prometheus never answered ${expr} as expected; last answer ${JSON.stringify(last)}; logs:\n${logs.join("\n")}`);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${logs.join("\n")}`);
    const ready = await httpRequest(`${url}/-/ready`).then((a) => a.status === 200, () => false);
    if (ready) return { url, logs, config, query, waitFor, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within 30 s:\n${logs.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
