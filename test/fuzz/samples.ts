import { create, toBinary, toJson, type DescField, type DescMessage, type DescMethod, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { AgentStreamRequestSchema } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { CreateDeploymentRequestSchema, ApplyRequestSchema } from "../../gen/proto/capstan/v1/deployment_service_pb.js";
import { RegisterNodeRequestSchema } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { ReportChunksRequestSchema } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { Health } from "../../gen/proto/health/v1/health_pb.js";
import { SERVICES } from "../../src/app/app.js";

/** Ids of the state the fuzz suite seeds, so valid samples name things that exist. */
export interface SeedIds {
  nodeIds: string[];
  nodeToken: string;
  deploymentId: string;
  projectName: string;
  jobId: string;
  tokenId: string;
  apiToken: string;
  chunkId: string;
  serviceName: string;
}

/** One RPC as the wire sees it. */
export interface RpcTarget {
  /** /package.Service/Method */
  path: string;
  method: DescMethod;
  /** Whether the client sends one message and gets one back. */
  unary: boolean;
}

/**
 * Every RPC the server routes: Capstan's services, gRPC health, and server
 * reflection (v1 and v1alpha share message shapes, so v1's descriptor serves both).
 */
export function rpcTargets(): RpcTarget[] {
  const targets: RpcTarget[] = [];
  for (const service of [...SERVICES, Health]) {
    for (const method of service.methods) {
      targets.push({ path: `/${service.typeName}/${method.name}`, method, unary: method.methodKind === "unary" });
    }
  }
  return targets;
}

/** Paths served by the reflection service, which has no descriptor among SERVICES. */
export const REFLECTION_PATHS = ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"];

/** A valid binary request for each RPC path, built against the seeded state. */
export function validSamples(targets: RpcTarget[], ids: SeedIds): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  for (const t of targets) out.set(t.path, [toBinary(t.method.input, create(t.method.input, sampleInit(t.method.input, ids, 0) as never))]);
  const add = <D extends DescMessage>(path: string, schema: D, init: MessageInitShape<D>) => out.get(path)!.push(toBinary(schema, create(schema, init)));
  add("/capstan.v1.NodeService/RegisterNode", RegisterNodeRequestSchema, { name: "fuzz-new", address: "10.9.9.9", labels: { zone: "z" }, tags: ["docker"], ports: { http: 8080 } });
  add("/capstan.v1.DeploymentService/CreateDeployment", CreateDeploymentRequestSchema, {
    templateId: "t", renderedCompose: "services:\n  web:\n    image: nginx\n", nodeId: ids.nodeIds[0], projectName: "fuzzproj", env: { A: "1" },
  });
  add("/capstan.v1.DeploymentService/Apply", ApplyRequestSchema, { spec: { services: [{ name: "fuzz-svc", command: "sleep 1", replicas: 1 }] } });
  add("/capstan.v1.ChunkIndexService/ReportChunks", ReportChunksRequestSchema, { nodeId: ids.nodeIds[0], chunks: [{ chunkId: ids.chunkId, sizeBytes: 10 }] });
  add("/capstan.v1.AgentService/AgentStream", AgentStreamRequestSchema, { message: { case: "hello", value: { nodeId: ids.nodeIds[1], nodeToken: ids.nodeToken, name: "n" } } });
  // Reflection requests: list services, and a file by symbol (field 4 = file_containing_symbol, field 7 = list_services).
  const list = Uint8Array.from([0x3a, 0x00]);
  const symbol = Uint8Array.from([0x22, 0x16, ...Buffer.from("capstan.v1.NodeService")]);
  for (const p of REFLECTION_PATHS) out.set(p, [list, symbol]);
  return out;
}

/** A valid REST body for an RPC (proto field names), built like the binary samples. */
export function sampleJson(method: DescMethod, ids: SeedIds): Record<string, JsonValue> {
  return toJson(method.input, create(method.input, sampleInit(method.input, ids, 0) as never), { useProtoFieldName: true }) as Record<string, JsonValue>;
}

/** The seeds' own example bodies, by "METHOD /path/template" (docs/seed-compatibility.md). */
export function seedBodies(ids: SeedIds): Record<string, Array<Record<string, JsonValue>>> {
  const node = ids.nodeIds[0];
  return {
    "POST /api/v1/nodes/register": [
      { id: "node-fz", hostname: "worker-fz", capabilities: ["docker", "compose"], status: "active" },
      { name: "worker-fz1", ip: "192.168.1.10", capabilities: { os: "linux", cpu_count: 8, mem_mb: 16000, disk_mb: 500000, gpus: [{ id: 0, model: "RTX", mem_mb: 24000 }], docker: { version: "24", available: true } } },
    ],
    "POST /api/v1/nodes": [{ node_id: "elio-fz", address: "10.1.0.5", p2p_port: 7000, http_port: 8000, memory_capacity_mb: 4096, disk_capacity_mb: 100000, available_chunks: [ids.chunkId] }],
    "POST /api/v1/nodes/{node_id}/heartbeat": [{ cpu_usage: 45.5, mem_usage: 60.2, disk_free_mb: 450000, running_containers: ["postgres"] }],
    "PUT /api/v1/nodes/{node_id}/heartbeat": [{ node_id: node, online: true, memory_used_mb: 512, cache_hit_rate: 0.9, total_chunks: 12, timestamp: 1767225600000 }],
    "POST /api/v1/nodes/{node_id}/eligibility": [{ eligibility: "eligible" }, { eligibility: "ineligible" }],
    "POST /api/v1/deployments": [{ deployment_id: "dep-fz", template_id: "t", rendered_compose: "services:\n  web:\n    image: nginx\n", node_id: node, env: { A: "1" } }],
    "POST /deploy": [{ project_name: "fzshop", compose_file_base64: "c2VydmljZXM6IHt9", agent_id: node }],
    "POST /api/apply": [
      { apiVersion: "orion/v1", kind: "Config", metadata: { name: "demo" }, spec: { services: [{ name: "api", path: ".", type: "node", entry: "index.ts", runtime: "node", replicas: 1, ports: [{ name: "http", port: 3000, protocol: "tcp" }], env: { NODE_ENV: "production" } }], nodes: [], plugins: [] } },
    ],
    "POST /api/v1/nodes/{node_id}/chunks": [{ added_chunk_ids: ["c9"], removed_chunk_ids: [ids.chunkId] }],
    "PUT /api/v1/nodes/{node_id}/chunks": [{ chunk_ids: [ids.chunkId, "c2"] }],
    "POST /api/v1/chunks/locations": [{ chunk_ids: [ids.chunkId, "unknown"] }],
    "PUT /api/v1/chunks/{chunk_id}/replication": [{ replication_factor: 1 }],
    "POST /api/v1/nodes/{node_id}/commands/ack": [{ command_id: "cmd-1" }],
    "POST /api/v1/tokens": [{ name: "fz-token", scope: "read" }],
  };
}

/**
 * A plain init object filling every field once: ids by field name from the
 * seeded state, small valid values elsewhere; nested messages two levels
 * deep. Well-known types are left out (their JSON-like shapes are covered by
 * the hand-made samples).
 */
function sampleInit(desc: DescMessage, ids: SeedIds, depth: number): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const member of desc.members) {
    const field = member.kind === "oneof" ? member.fields[0] : member;
    if (!field) continue;
    const value = sampleField(field, ids, depth);
    if (value === undefined) continue;
    if (member.kind === "oneof") init[member.localName] = { case: field.localName, value };
    else init[field.localName] = value;
  }
  return init;
}

function sampleField(field: DescField, ids: SeedIds, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field.scalar, field.name, ids);
    case "enum":
      return field.enum.values[1]?.number ?? 0;
    case "message":
      if (depth >= 2 || field.message.typeName.startsWith("google.protobuf.")) return undefined;
      return sampleInit(field.message, ids, depth + 1);
    case "list":
      if (field.listKind === "scalar") return [scalar(field.scalar, field.name, ids)];
      if (field.listKind === "enum") return [field.enum.values[1]?.number ?? 0];
      if (depth >= 2 || field.message.typeName.startsWith("google.protobuf.")) return undefined;
      return [sampleInit(field.message, ids, depth + 1)];
    case "map":
      if (field.mapKind === "scalar") return { [String(mapKey(field.mapKey))]: scalar(field.scalar, field.name, ids) };
      if (field.mapKind === "enum") return { [String(mapKey(field.mapKey))]: field.enum.values[1]?.number ?? 0 };
      if (depth >= 2 || field.message.typeName.startsWith("google.protobuf.")) return undefined;
      return { [String(mapKey(field.mapKey))]: sampleInit(field.message, ids, depth + 1) };
  }
}

function mapKey(type: ScalarType): string | number {
  return type === ScalarType.STRING ? "k" : type === ScalarType.BOOL ? "true" : 1;
}

function scalar(type: ScalarType, name: string, ids: SeedIds): unknown {
  switch (type) {
    case ScalarType.STRING:
      return idFor(name, ids);
    case ScalarType.BOOL:
      return true;
    case ScalarType.BYTES:
      return Uint8Array.from([1, 2, 3]);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1n;
    default:
      return 1;
  }
}

function idFor(name: string, ids: SeedIds): string {
  if (/node_id|peer_id/.test(name)) return ids.nodeIds[0];
  if (name === "deployment_id") return ids.deploymentId;
  if (name === "project_name") return ids.projectName;
  if (/job_id/.test(name)) return ids.jobId;
  if (name === "token_id") return ids.tokenId;
  if (/chunk_id/.test(name)) return ids.chunkId;
  if (name === "service_name") return ids.serviceName;
  return "fuzz";
}
