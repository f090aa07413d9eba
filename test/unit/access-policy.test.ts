import { create, createFileRegistry, setExtension, type DescService, type FileRegistry } from "@bufbuild/protobuf";
import { file_google_protobuf_empty, FileDescriptorProtoSchema, MethodOptionsSchema, type MethodOptions } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { access, AccessLevel, AccessRuleSchema } from "../../gen/proto/capstan/v1/access_options_pb.js";
import { Health } from "../../gen/proto/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/proto/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { SERVICES } from "../../src/app/app.js";
import { loadConfig } from "../../src/config/config.js";
import { AuditLog } from "../../src/managers/audit-log.js";
import type { AuditEvent } from "../../src/model/audit.js";
import { DomainError, PermissionDeniedError } from "../../src/model/errors.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { NodeRegistry } from "../../src/managers/node-registry.js";
import type { Principal } from "../../src/model/principal.js";
import { TokenManager } from "../../src/managers/token-manager.js";
import { accessPolicy, authorize, METRICS_SCRAPE, registersAnonymously, type AccessTarget, type Requirement } from "../../src/rpc/access-policy.js";
import { AuthFailures } from "../../src/rpc/auth-failures.js";
import { CallGuard } from "../../src/rpc/call-guard.js";
import { NodeState } from "../../src/state/node-state.js";
import { MemoryNodeStore } from "../fakes/memory-node-store.js";
import { MemoryTokenStore } from "../fakes/memory-token-store.js";

const node = (id: string, anonymous: boolean): Node => ({
  id,
  name: id,
  address: "",
  labels: {},
  tags: [],
  capabilities: emptyCapabilities(),
  ports: {},
  status: "online",
  eligibility: "eligible",
  draining: false,
  agentVersion: "",
  tokenHash: "",
  anonymous,
  agentKind: "rest",
  metrics: undefined,
  lastHeartbeatAt: undefined,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

const reader: Principal = { kind: "operator", tokenId: "t1", name: "reader", scope: "read" };
const writer: Principal = { kind: "operator", tokenId: "t2", name: "writer", scope: "write" };
const admin: Principal = { kind: "operator", tokenId: "t3", name: "admin", scope: "admin" };
const nodeA: Principal = { kind: "node", nodeId: "a" };
const join: Principal = { kind: "join" };
const dev: Principal = { kind: "dev", peer: "127.0.0.1" };
const none: Principal = { kind: "none", peer: "10.0.0.9" };
const anonRead: Principal = { kind: "anonymous", peer: "10.0.0.9", scopes: new Set(["read"]) };
const anonWrite: Principal = { kind: "anonymous", peer: "10.0.0.9", scopes: new Set(["write"]) };
const anonNode: Principal = { kind: "anonymous", peer: "10.0.0.9", scopes: new Set(["node"]) };

const forNode = (id: string, n: Node | undefined, openRegistration = false): AccessTarget => ({ nodeId: id, node: n, openRegistration });
const nothing = forNode("", undefined);

type Outcome = "ok" | "unauthenticated" | "permission_denied";
function outcome(p: Principal, r: Requirement, t: AccessTarget): Outcome {
  try {
    authorize(p, r, t);
    return "ok";
  } catch (err) {
    if (err instanceof DomainError && (err.kind === "unauthenticated" || err.kind === "permission_denied")) return err.kind;
    throw err;
  }
}

describe("access policy", () => {
  const cases: Array<[string, Principal, Requirement, AccessTarget, Outcome]> = [
    ["anyone may call public methods", none, { level: "public" }, nothing, "ok"],
    ["no token is refused for reads", none, { level: "read" }, nothing, "unauthenticated"],
    ["a read token may read", reader, { level: "read" }, nothing, "ok"],
    ["a read token may not write", reader, { level: "write" }, nothing, "permission_denied"],
    ["a write token may read", writer, { level: "read" }, nothing, "ok"],
    ["a write token may write", writer, { level: "write" }, nothing, "ok"],
    ["a write token may not administer", writer, { level: "admin" }, nothing, "permission_denied"],
    ["an admin token may administer", admin, { level: "admin" }, nothing, "ok"],
    ["dev mode may administer", dev, { level: "admin" }, nothing, "ok"],
    ["a node token may not read operator data", nodeA, { level: "read" }, nothing, "permission_denied"],
    ["a node token may read chunk locations", nodeA, { level: "read", nodes: true }, nothing, "ok"],
    ["a node token may not write even where nodes may read", nodeA, { level: "write", nodes: true }, nothing, "permission_denied"],
    ["the join token may not read", join, { level: "read" }, nothing, "permission_denied"],
    ["anonymous read may read", anonRead, { level: "read" }, nothing, "ok"],
    ["anonymous read may not write", anonRead, { level: "write" }, nothing, "unauthenticated"],
    ["anonymous write may read too", anonWrite, { level: "read" }, nothing, "ok"],
    ["anonymous write may never administer", anonWrite, { level: "admin" }, nothing, "unauthenticated"],
    ["any caller with credentials may ask who it is", nodeA, { level: "any" }, nothing, "ok"],
    ["no credentials may not ask who it is", none, { level: "any" }, nothing, "unauthenticated"],
    ["a node acts as itself", nodeA, { level: "node" }, forNode("a", node("a", false)), "ok"],
    ["a node may not act for another node", nodeA, { level: "node" }, forNode("b", node("b", false)), "permission_denied"],
    ["a write token may act for a node", writer, { level: "node" }, forNode("b", node("b", false)), "ok"],
    ["a read token may not act for a node", reader, { level: "node" }, forNode("b", node("b", false)), "permission_denied"],
    ["anonymous node scope acts for an anonymous node", anonNode, { level: "node" }, forNode("e", node("e", true)), "ok"],
    ["anonymous node scope may not act for a node holding a token", anonNode, { level: "node" }, forNode("b", node("b", false)), "unauthenticated"],
    ["anonymous read scope may not act for nodes", anonRead, { level: "node" }, forNode("e", node("e", true)), "unauthenticated"],
    ["no token may not act for a node", none, { level: "node" }, forNode("e", node("e", true)), "unauthenticated"],
    ["the join token may not act for a node", join, { level: "node" }, forNode("b", node("b", false)), "permission_denied"],
    ["the join token registers", join, { level: "register" }, forNode("", undefined), "ok"],
    ["the join token re-registers a token node", join, { level: "register" }, forNode("b", node("b", false)), "ok"],
    ["a node re-registers itself", nodeA, { level: "register" }, forNode("a", node("a", false)), "ok"],
    ["a node may not register another node", nodeA, { level: "register" }, forNode("b", node("b", false)), "permission_denied"],
    ["a read token may not register", reader, { level: "register" }, nothing, "permission_denied"],
    ["a write token registers", writer, { level: "register" }, nothing, "ok"],
    ["no token registers when registration is open", none, { level: "register" }, forNode("", undefined, true), "ok"],
    ["no token may not register when a join token is configured", none, { level: "register" }, forNode("", undefined, false), "unauthenticated"],
    ["anonymous node scope registers new nodes", anonNode, { level: "register" }, forNode("", undefined), "ok"],
    ["anonymous node scope re-registers anonymous nodes", anonNode, { level: "register" }, forNode("e", node("e", true)), "ok"],
    ["agent streams authenticate in their hello", none, { level: "agent" }, nothing, "ok"],
  ];
  it.each(cases)("%s", (_name, principal, requirement, target, expected) => {
    expect(outcome(principal, requirement, target)).toBe(expected);
  });

  it("marks registrations anonymous only for token-less callers granted the node scope", () => {
    expect([anonNode, anonRead, none, dev, join, writer].map(registersAnonymously)).toEqual([true, false, false, false, false, false]);
  });

  const policy = accessPolicy(SERVICES);

  it("gives every method the server serves a requirement, and no other method but Prometheus' scrape", () => {
    const served = [...SERVICES, Health, ReflectionV1, ReflectionV1alpha].flatMap((s: DescService) => s.methods.map((m) => `${s.typeName}/${m.name}`));
    expect([...policy.keys()].sort()).toEqual([...served, METRICS_SCRAPE].sort());
  });

  it("lets read tokens and token-less callers granted read scrape /metrics, and no node token", () => {
    expect(policy.get(METRICS_SCRAPE)).toEqual({ level: "read" });
  });

  it("keeps public methods to health, info and reflection", () => {
    const pub = [...policy].filter(([, r]) => r.level === "public").map(([rpc]) => rpc.split("/")[0]);
    expect(new Set(pub)).toEqual(new Set(["capstan.v1.SystemService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]));
  });

  // Entries of the table the access options replaced (src/rpc/access-policy.ts before
  // the options): one or more per service and per level.
  const previous: Array<[string, Requirement]> = [
    ["capstan.v1.NodeService/RegisterNode", { level: "register" }],
    ["capstan.v1.NodeService/ListNodes", { level: "read" }],
    ["capstan.v1.NodeService/Heartbeat", { level: "node" }],
    ["capstan.v1.NodeService/DrainNode", { level: "admin" }],
    ["capstan.v1.NodeService/DeleteNode", { level: "admin" }],
    ["capstan.v1.AgentService/AgentStream", { level: "agent" }],
    ["capstan.v1.AgentService/ListAgents", { level: "read" }],
    ["capstan.v1.DeploymentService/CreateDeployment", { level: "write" }],
    ["capstan.v1.DeploymentService/DeleteDeployment", { level: "admin" }],
    ["capstan.v1.DeploymentService/Apply", { level: "write" }],
    ["capstan.v1.DeploymentService/ExplainPlacement", { level: "read" }],
    ["capstan.v1.DeploymentService/CancelJob", { level: "write" }],
    ["capstan.v1.DeploymentService/WatchJob", { level: "read" }],
    ["capstan.v1.ChunkIndexService/ReportChunks", { level: "node" }],
    ["capstan.v1.ChunkIndexService/GetChunkLocations", { level: "read", nodes: true }],
    ["capstan.v1.ChunkIndexService/GetClusterMetrics", { level: "read", nodes: true }],
    ["capstan.v1.ChunkIndexService/SetReplicationTarget", { level: "write" }],
    ["capstan.v1.ChunkIndexService/AckCommand", { level: "node" }],
    ["capstan.v1.TokenService/CreateToken", { level: "admin" }],
    ["capstan.v1.TokenService/WhoAmI", { level: "any" }],
    ["capstan.v1.AuditService/ListAuditEvents", { level: "admin" }],
    ["capstan.v1.SystemService/GetHealth", { level: "public" }],
    ["capstan.v1.SystemService/GetInfo", { level: "public" }],
    ["grpc.health.v1.Health/Watch", { level: "public" }],
    ["grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", { level: "public" }],
  ];
  it.each(previous)("reads %s's requirement from its access option as before", (rpc, requirement) => {
    expect(policy.get(rpc)).toStrictEqual(requirement);
  });
});

describe("access options on methods", () => {
  const probes = probeServices();
  const probe = probes.getService("test.v1.Probe")!;

  it("leaves out a method without the option, or with an unspecified level", () => {
    const p = accessPolicy([probe]);
    expect([p.has("test.v1.Probe/NoOption"), p.has("test.v1.Probe/Unspecified"), p.get("test.v1.Probe/Write")]).toEqual([false, false, { level: "write" }]);
  });

  it("rejects node tokens on a level other than an operator scope", () => {
    expect(() => accessPolicy([probes.getService("test.v1.Misconfigured")!])).toThrow(/Misconfigured\/NodesOnNode.*only read, write and admin/);
  });

  it("refuses a call to a method without the option, even in dev mode", async () => {
    const { guard, audit } = await guardFor([probe]);
    const call = (rpc: string) => guard.admit({ rpc, header: new Headers(), peer: { address: "127.0.0.1", certNames: undefined }, message: {} });
    await expect(call("test.v1.Probe/Write")).resolves.toMatchObject({ principal: { kind: "dev" } });
    await expect(call("test.v1.Probe/NoOption")).rejects.toThrow(PermissionDeniedError);
    await expect(call("test.v1.Probe/Unspecified")).rejects.toThrow(/is not open to any caller/);
    await audit.flush();
  });
});

/** Services whose access options the server must refuse or reject, next to one it accepts. */
function probeServices(): FileRegistry {
  const rule = (level: AccessLevel, nodes = false) => {
    const options = create(MethodOptionsSchema);
    setExtension(options, access, create(AccessRuleSchema, { level, nodes }));
    return options;
  };
  const method = (name: string, options?: MethodOptions) => ({ name, inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty", options });
  const file = create(FileDescriptorProtoSchema, {
    name: "test/v1/probe.proto",
    package: "test.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/empty.proto"],
    service: [
      { name: "Probe", method: [method("NoOption"), method("Unspecified", rule(AccessLevel.UNSPECIFIED)), method("Write", rule(AccessLevel.WRITE))] },
      { name: "Misconfigured", method: [method("NodesOnNode", rule(AccessLevel.NODE, true))] },
    ],
  });
  return createFileRegistry(file, (name) => (name === "google/protobuf/empty.proto" ? file_google_protobuf_empty : undefined));
}

/** The server's CallGuard over `services`, in dev mode (token-less loopback callers may do anything). */
async function guardFor(services: DescService[]): Promise<{ guard: CallGuard; audit: AuditLog }> {
  const logger = pino({ level: "silent" });
  const config = loadConfig({ CAPSTAN_DEV: "1" }, false);
  const tokens = new TokenManager(new MemoryTokenStore(), logger);
  await tokens.bootstrap(undefined);
  const registry = new NodeRegistry({ store: new MemoryNodeStore(), state: new NodeState(), logger });
  const events: AuditEvent[] = [];
  const audit = new AuditLog({ append: async (batch) => void events.push(...batch), list: async () => events }, logger);
  const failures = new AuthFailures({ perWindow: 0, windowMs: 60_000 }, audit, logger);
  const guard = new CallGuard({ credentials: { tokens, registry, joinHash: undefined, auth: config.auth }, registry, tokens, audit, failures, limits: config.limits, policy: accessPolicy(services) });
  return { guard, audit };
}
