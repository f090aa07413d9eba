import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { ChunkIndexService } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { DeploymentService } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { TokenScope, TokenService } from "../../gen/proto/capstan/v1/token_service_pb.js";
import { startServerProcess, type ServerProcess } from "../support/server-process.js";
import type { SeedIds } from "./samples.js";
import { httpRequest } from "../support/wire.js";

/** What one fuzz case came to. */
export interface CaseResult {
  /** Why the answer is not a proper success or error; undefined when it is. */
  violation?: string;
  /** The server refused the call (any non-OK answer): stored data must then be as before. */
  rejected: boolean;
  /** The input and the answer, short, for failure messages. */
  summary: string;
}

// Rows whose values only change when a call says so; jobs, replicas, audit events and
// liveness columns move in the background by design and are left out.
const SNAPSHOT_QUERIES = [
  "SELECT id, name, token_hash, labels, eligibility, draining, anonymous FROM nodes ORDER BY id",
  "SELECT id, name, scopes, revoked_at FROM api_tokens ORDER BY id",
  "SELECT id, revision, compose_hash FROM deployments ORDER BY id",
  "SELECT name, spec_hash FROM services ORDER BY name",
  "SELECT chunk_id, factor FROM chunk_targets ORDER BY chunk_id",
];

/**
 * The server under fuzzing and the bookkeeping around every case: counts per
 * property, the process still running, /health still 200, and stored data
 * unchanged by every rejected call.
 */
export class FuzzTarget {
  /** Cases tried per property, shrinking runs included. */
  readonly counts = new Map<string, number>();
  /** Cases that broke a rule (each shrinking step that still fails counts). */
  failures = 0;
  private db: Database.Database | undefined;

  private constructor(
    readonly server: ServerProcess,
    readonly ids: SeedIds,
  ) {}

  /**
   * Starts the real server in a child process and seeds it through the API
   * with the admin token: three nodes, a chunk report and a replication
   * target, a deployment pinned to a node, a service, and a read-only API token.
   */
  static async start(env: Record<string, string> = {}): Promise<FuzzTarget> {
    // A short shutdown deadline: the suite's last connections must not hold the server for 10 s.
    const server = await startServerProcess({ env: { SHUTDOWN_TIMEOUT: "2s", ...env } });
    try {
      const ids = await seed(server);
      const target = new FuzzTarget(server, ids);
      target.db = new Database(server.dbPath, { readonly: true, fileMustExist: true });
      return target;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  /** The rows that rejected calls must leave alone, as one string. */
  snapshot(): string {
    return SNAPSHOT_QUERIES.map((q) => JSON.stringify(this.db!.prepare(q).raw().all())).join("\n");
  }

  /**
   * Runs one case and checks everything around it; throws (failing the
   * property, so fast-check shrinks and prints the seed) when the answer is
   * not proper, the process has exited, /health is not 200, or a rejected
   * call changed stored data.
   */
  async step(property: string, run: () => Promise<CaseResult>): Promise<void> {
    this.counts.set(property, (this.counts.get(property) ?? 0) + 1);
    const before = this.snapshot();
    const result = await run();
    const problem = result.violation ?? (await this.afterCase(before, result.rejected));
    if (problem) {
      this.failures++;
      throw new Error(`${problem}\n  case: ${result.summary}`);
    }
  }

  private async afterCase(before: string, rejected: boolean): Promise<string | undefined> {
    if (!this.server.alive()) return `the server process exited (${String(this.server.exitCode)}):\n${this.server.logs.slice(-20).join("\n")}`;
    const health = await httpRequest(this.server.url, { method: "GET", path: "/health", timeoutMs: 10_000 });
    if (health.kind !== "answer" || health.answer.status !== 200) {
      return `GET /health after the case: ${health.kind === "answer" ? `${health.answer.status} ${health.answer.body.toString().slice(0, 200)}` : health.kind}`;
    }
    if (!rejected) return undefined;
    const after = this.snapshot();
    return after === before ? undefined : `stored data changed by a rejected call:\n${diff(before, after)}`;
  }

  /** Error-level (and worse) log lines: failures the server did not expect. */
  errorLogs(): string[] {
    return this.server.logs.filter((l) => /"level":(50|60)/.test(l));
  }

  /** Lines outside the JSON log: Node's own warnings on stderr. */
  processWarnings(): string[] {
    return this.server.logs.filter((l) => l.trim() !== "" && !l.startsWith("{"));
  }

  /** "1,512 cases (a-grpc: 300, ...), 0 failing cases" */
  summary(): string {
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    const parts = [...this.counts].map(([k, v]) => `${k}: ${v.toLocaleString("en")}`).join(", ");
    return `${total.toLocaleString("en")} cases (${parts}), ${this.failures} failing cases, ${this.errorLogs().length} error log lines, ${this.processWarnings().length} process warning lines`;
  }

  /** Stops the server (and closes the snapshot connection). */
  async stop(): Promise<void> {
    this.db?.close();
    await this.server.stop();
  }
}

// Only the rows that differ: whole tables would bury the change.
function diff(before: string, after: string): string {
  const a = before.split("\n");
  const b = after.split("\n");
  const tables = ["nodes", "api_tokens", "deployments", "services", "chunk_targets"];
  const lines: string[] = [];
  tables.forEach((t, i) => {
    if (a[i] === b[i]) return;
    const rows = (text: string) => new Set((JSON.parse(text) as unknown[]).map((r) => JSON.stringify(r)));
    const was = rows(a[i]);
    const now = rows(b[i]);
    for (const r of was) if (!now.has(r)) lines.push(`  ${t} - ${r}`);
    for (const r of now) if (!was.has(r)) lines.push(`  ${t} + ${r}`);
  });
  return lines.join("\n");
}

async function seed(server: ServerProcess): Promise<SeedIds> {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${server.adminToken}`);
    return next(req);
  };
  const transport = createGrpcTransport({ baseUrl: server.url, interceptors: [bearer] });
  const nodes = createClient(NodeService, transport);
  const deployments = createClient(DeploymentService, transport);
  const chunks = createClient(ChunkIndexService, transport);
  const tokens = createClient(TokenService, transport);

  const registered = [];
  for (const [i, zone] of ["a", "b", "c"].entries()) {
    registered.push(await nodes.registerNode({ name: `fuzz-seed-${i}`, address: `10.0.0.${i + 1}`, labels: { zone }, tags: ["docker", "compose"], ports: { http: 8000 + i } }));
  }
  const nodeIds = registered.map((r) => r.nodeId);
  const chunkId = "chunk-seed-1";
  await chunks.reportChunks({ nodeId: nodeIds[0], chunks: [{ chunkId, sizeBytes: 1024, metadata: { kind: "seed" } }] });
  await chunks.setReplicationTarget({ chunkId, replicationFactor: 2 });
  const deployment = await deployments.createDeployment({
    deploymentId: "fuzz-seed-deployment",
    templateId: "seed",
    renderedCompose: "services:\n  web:\n    image: nginx:alpine\n",
    nodeId: nodeIds[0],
    projectName: "fuzzseed",
  });
  const serviceName = "fuzz-seed-svc";
  await deployments.apply({ spec: { services: [{ name: serviceName, command: "sleep 600", replicas: 1 }] } });
  const token = await tokens.createToken({ name: "fuzz-reader", scope: TokenScope.READ });
  return {
    nodeIds,
    nodeToken: registered[1].nodeToken,
    deploymentId: deployment.deploymentId,
    projectName: "fuzzseed",
    jobId: deployment.jobId,
    tokenId: token.token!.id,
    apiToken: token.secret,
    chunkId,
    serviceName,
  };
}
