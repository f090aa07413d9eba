import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Command } from "commander";
import { parseAllDocuments } from "yaml";
import {
  ApplyRequestSchema,
  ApplyResponseSchema,
  DeleteServiceResponseSchema,
  DeploymentService,
  ExplainPlacementResponseSchema,
  ListServicesResponseSchema,
  type ApplyRequest,
} from "../../../gen/proto/capstan/v1/deployment_service_pb.js";
import { ServiceSchema, type Service } from "../../../gen/proto/capstan/v1/service_pb.js";
import { OperationFailedError, UsageError } from "../errors.js";
import { action, allPages, positiveInt, type Ctx, type Io } from "../kit.js";
import { age, details, labels, list, table, time } from "../output.js";
import { planDiff, type ServiceJson } from "../plan-diff.js";
import { readInput } from "../input.js";

/** "running/desired" replicas of a service. */
export function replicaCount(s: Service): string {
  return `${s.replicaSet.filter((r) => r.status === "running").length}/${s.replicas}`;
}

/**
 * Reads an Orion config document (apiVersion orion/v1 or capstan/v1, kind
 * Config) from YAML or JSON text into the Apply request: the document's keys
 * are the request's JSON names. Unknown keys are refused with their path (a
 * typo would otherwise be dropped silently); env and label values that YAML
 * read as numbers or booleans become the strings the document meant.
 */
export function parseConfigDocument(source: string, text: string): ApplyRequest {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new UsageError(`${source}: not a YAML or JSON document`);
  const real = docs.filter((d) => d.contents !== null);
  if (real.length !== 1) throw new UsageError(`${source}: holds ${real.length} documents; apply takes one Config document`);
  const doc = real[0];
  if (doc.errors.length > 0) throw new UsageError(`${source}: ${doc.errors[0].message}`);
  const value = doc.toJS() as unknown;
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`${source}: the document is not a mapping`);
  const services = (value as { spec?: { services?: unknown } }).spec?.services;
  if (Array.isArray(services)) {
    for (const s of services) {
      if (s && typeof s === "object") for (const key of ["env", "labels"]) stringValues((s as Record<string, unknown>)[key]);
    }
  }
  try {
    return fromJson(ApplyRequestSchema, value as JsonValue);
  } catch (err) {
    throw new UsageError(`${source}: ${(err as Error).message}`);
  }
}

function stringValues(map: unknown): void {
  if (!map || typeof map !== "object" || Array.isArray(map)) return;
  const m = map as Record<string, unknown>;
  for (const [k, v] of Object.entries(m)) if (typeof v === "number" || typeof v === "boolean") m[k] = String(v);
}

function listAllServices(client: Client<typeof DeploymentService>) {
  return allPages((pageToken) => client.listServices({ pageSize: 1000, pageToken }), (r) => r.items, (r, all) => (r.items = all));
}

/**
 * Polls the services until each runs its desired replicas (and no replica is
 * still starting or stopping), printing "name: running/desired status" on
 * stderr whenever it changes; a service the server marks failed ends the wait.
 */
async function waitForServices(ctx: Ctx, names: readonly string[]): Promise<void> {
  const client = (await ctx.clients()).of(DeploymentService);
  const said = new Map<string, string>();
  for (;;) {
    const items = (await listAllServices(client)).items.filter((s) => names.includes(s.name));
    let done = true;
    for (const s of items) {
      const line = `${s.name}: ${replicaCount(s)} running, ${s.status}`;
      if (said.get(s.name) !== line) ctx.io.err(`${line}\n`);
      said.set(s.name, line);
      if (s.status === "failed") {
        const failed = s.replicaSet.filter((r) => r.status === "failed").map((r) => `${r.id} (job ${r.jobId})`);
        throw new OperationFailedError(`service ${s.name} failed: replicas ${failed.join(", ")}; capstan job get JOB shows why`);
      }
      const settling = s.replicaSet.some((r) => r.status === "pending" || r.status === "stopping");
      if (!(s.status === "running" || s.status === "stopped") || settling) done = false;
    }
    if (done) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** apply, services, service get|rm, explain. */
export function registerServices(program: Command, io: Io): void {
  program
    .command("apply")
    .description("apply an orion/v1 Config document (YAML or JSON) and show the plan as a diff")
    .requiredOption("-f, --file <file>", "the document ('-' reads stdin)")
    .option("--dry-run", "show the plan, change nothing")
    .option("--prune", "delete services the document does not name")
    .option("--wait", "show replicas running until every service runs, or one fails")
    .action(
      action(io, async (ctx, opts: { file: string; dryRun?: boolean; prune?: boolean; wait?: boolean }) => {
        const request = parseConfigDocument(opts.file, await readInput("--file", opts.file));
        request.dryRun = opts.dryRun ?? false;
        request.prune = opts.prune ?? false;
        const client = (await ctx.clients()).of(DeploymentService);
        const before = ctx.format === "table" ? (await listAllServices(client)).items : [];
        const res = await client.apply(request);
        ctx.show(ApplyResponseSchema, res, () => {
          const current = new Map(before.map((s) => [s.name, toJson(ServiceSchema, s) as ServiceJson]));
          const wanted = new Map((request.spec?.services ?? []).map((s) => [s.name, toJson(ServiceSchema, s) as ServiceJson]));
          return planDiff(res.plan?.changes ?? [], current, wanted) + `${res.status}${request.dryRun ? " (dry run: nothing changed)" : ""}\n`;
        });
        if (opts.wait && !request.dryRun) await waitForServices(ctx, (request.spec?.services ?? []).map((s) => s.name));
      }),
    );

  program
    .command("services")
    .description("list services with their replicas running and desired")
    .action(
      action(io, async (ctx) => {
        const res = await listAllServices((await ctx.clients()).of(DeploymentService));
        ctx.show(ListServicesResponseSchema, res, () =>
          table(res.items, [
            { header: "NAME", value: (s) => s.name },
            { header: "STATUS", value: (s) => s.status },
            { header: "REPLICAS", value: replicaCount },
            { header: "RUN", value: (s) => s.image || s.command || `${s.runtime} ${s.entry}`.trim() },
            { header: "AGE", value: (s) => age(s.createdAt) },
            { header: "LABELS", value: (s) => labels(s.labels) },
          ]),
        );
      }),
    );

  const service = program.command("service").description("show or remove one service");
  service
    .command("get")
    .description("show a service and its replicas")
    .argument("<name>", "service name")
    .action(
      action(io, async (ctx, serviceName: string) => {
        const s = (await (await ctx.clients()).of(DeploymentService).getService({ serviceName })).service;
        if (!s) return;
        ctx.show(ServiceSchema, s, () =>
          details([
            ["name", s.name],
            ["status", s.status],
            ["replicas", replicaCount(s)],
            ["type", s.type || "-"],
            ["command", s.command || "-"],
            ["runtime", s.runtime || "-"],
            ["image", s.image || "-"],
            ["env", list(Object.keys(s.env))],
            ["labels", labels(s.labels)],
            ["created", time(s.createdAt)],
            ["updated", time(s.updatedAt)],
          ]) +
            "\n" +
            table(s.replicaSet, [
              { header: "REPLICA", value: (r) => r.id },
              { header: "STATUS", value: (r) => r.status },
              { header: "NODE", value: (r) => r.nodeId },
              { header: "JOB", value: (r) => r.jobId },
              { header: "AGE", value: (r) => age(r.createTime) },
            ]),
        );
      }),
    );
  service
    .command("rm")
    .description("delete a service and stop its replicas")
    .argument("<name>", "service name")
    .action(
      action(io, async (ctx, serviceName: string) => {
        const res = await (await ctx.clients()).of(DeploymentService).deleteService({ serviceName });
        ctx.show(DeleteServiceResponseSchema, res, () => `service ${serviceName} deleted\n`);
      }),
    );

  program
    .command("explain")
    .description("show how the scheduler sees every node for a service: the filter that rejects it and why, or its score and terms")
    .argument("<name>", "service name")
    .option("--count <n>", "replicas to place (default: the service's)")
    .action(
      action(io, async (ctx, serviceName: string, opts: { count?: string }) => {
        const count = opts.count === undefined ? 0 : positiveInt("--count", opts.count);
        const res = await (await ctx.clients()).of(DeploymentService).explainPlacement({ serviceName, count });
        ctx.show(ExplainPlacementResponseSchema, res, () =>
          table(res.nodes, [
            { header: "NODE", value: (v) => v.nodeId },
            { header: "NAME", value: (v) => v.nodeName },
            { header: "FEASIBLE", value: (v) => (v.feasible ? "yes" : "no") },
            { header: "FILTER", value: (v) => v.rejectedBy || "-" },
            { header: "SCORE", value: (v) => (v.feasible ? v.score.toFixed(3) : "-") },
            { header: "PLACED", value: (v) => String(v.placed) },
            { header: "REASON / TERMS", value: (v) => (v.feasible ? [terms(v.scoreTerms), v.locality].filter(Boolean).join("; ") : v.reason) },
          ]) + `\n${res.summary}\n`,
        );
      }),
    );
}

function terms(t: Record<string, number>): string {
  const keys = Object.keys(t).sort();
  return keys.length === 0 ? "-" : keys.map((k) => `${k}=${t[k].toFixed(3)}`).join(" ");
}
