import { PermissionDeniedError, UnauthenticatedError } from "../model/errors.js";
import type { Node } from "../model/node.js";
import { scopeIncludes, type Principal, type Scope } from "../model/principal.js";

/** What a call needs. */
export type Requirement =
  /** Anyone: health, info, reflection. */
  | { level: "public" }
  /** Any authenticated caller. */
  | { level: "any" }
  /** An operator scope; `nodes`: node tokens may also call it (chunk locations, metrics). */
  | { level: Scope; nodes?: boolean }
  /** Acting as the node named by the request's node_id. */
  | { level: "node" }
  /** Registering (or re-registering) a node. */
  | { level: "register" }
  /** An agent stream: its hello carries the credentials, checked by the AgentGate. */
  | { level: "agent" };

const read = { level: "read" } as const;
const write = { level: "write" } as const;
const admin = { level: "admin" } as const;
const node = { level: "node" } as const;
const pub = { level: "public" } as const;

/**
 * Every RPC the server serves and what it needs. A method missing here is
 * refused (fail closed); a test checks that every served method is listed.
 */
export const POLICY: Readonly<Record<string, Requirement>> = {
  "capstan.v1.NodeService/RegisterNode": { level: "register" },
  "capstan.v1.NodeService/ListNodes": read,
  "capstan.v1.NodeService/GetNode": read,
  "capstan.v1.NodeService/ListNodeSummaries": read,
  "capstan.v1.NodeService/Heartbeat": node,
  "capstan.v1.NodeService/SetNodeEligibility": admin,
  "capstan.v1.NodeService/DrainNode": admin,
  "capstan.v1.NodeService/DeleteNode": admin,
  "capstan.v1.AgentService/AgentStream": { level: "agent" },
  "capstan.v1.AgentService/ListAgents": read,
  "capstan.v1.DeploymentService/CreateDeployment": write,
  "capstan.v1.DeploymentService/ListDeployments": read,
  "capstan.v1.DeploymentService/GetDeployment": read,
  "capstan.v1.DeploymentService/DeleteDeployment": admin,
  "capstan.v1.DeploymentService/ListRevisions": read,
  "capstan.v1.DeploymentService/RollbackDeployment": write,
  "capstan.v1.DeploymentService/Deploy": write,
  "capstan.v1.DeploymentService/StopProject": write,
  "capstan.v1.DeploymentService/GetProjectStatus": read,
  "capstan.v1.DeploymentService/Apply": write,
  "capstan.v1.DeploymentService/ListServices": read,
  "capstan.v1.DeploymentService/GetService": read,
  "capstan.v1.DeploymentService/DeleteService": admin,
  "capstan.v1.DeploymentService/ExplainPlacement": read,
  "capstan.v1.DeploymentService/GetJob": read,
  "capstan.v1.DeploymentService/ListJobs": read,
  "capstan.v1.DeploymentService/CancelJob": write,
  "capstan.v1.DeploymentService/WatchJob": read,
  "capstan.v1.ChunkIndexService/ReportChunks": node,
  "capstan.v1.ChunkIndexService/UpdateChunks": node,
  "capstan.v1.ChunkIndexService/GetChunkLocations": { level: "read", nodes: true },
  "capstan.v1.ChunkIndexService/GetClusterMetrics": { level: "read", nodes: true },
  "capstan.v1.ChunkIndexService/SetReplicationTarget": write,
  "capstan.v1.ChunkIndexService/PullCommands": node,
  "capstan.v1.ChunkIndexService/AckCommand": node,
  "capstan.v1.TokenService/CreateToken": admin,
  "capstan.v1.TokenService/ListTokens": admin,
  "capstan.v1.TokenService/RevokeToken": admin,
  "capstan.v1.TokenService/WhoAmI": { level: "any" },
  "capstan.v1.AuditService/ListAuditEvents": admin,
  "capstan.v1.SystemService/GetHealth": pub,
  "capstan.v1.SystemService/GetInfo": pub,
  "grpc.health.v1.Health/Check": pub,
  "grpc.health.v1.Health/Watch": pub,
  "grpc.health.v1.Health/List": pub,
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo": pub,
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": pub,
};

/** What a decision may look at besides the caller: the node a call is about. */
export interface AccessTarget {
  /** The request's node_id (node calls) or the node a registration would update. */
  nodeId: string;
  /** That node, when it exists. */
  node: Node | undefined;
  /** Registration needs no credentials (no CAPSTAN_JOIN_TOKEN configured). */
  openRegistration: boolean;
}

const NEEDS_TOKEN = "this call needs a bearer token (Authorization: Bearer <token>)";

/** Whether a registration by `p` makes an anonymous node (one token-less callers may act for). */
export function registersAnonymously(p: Principal): boolean {
  return p.kind === "anonymous" && p.scopes.has("node");
}

/**
 * Decides whether `p` may make a call with requirement `r`. Throws
 * Unauthenticated when credentials are missing (or are not enough to say
 * who the caller is) and PermissionDenied when the caller is known but may
 * not do this. Pure: every input is an argument.
 */
export function authorize(p: Principal, r: Requirement, target: AccessTarget): void {
  switch (r.level) {
    case "public":
    case "agent":
      return;
    case "any":
      if (p.kind === "none") throw new UnauthenticatedError(NEEDS_TOKEN);
      return;
    case "node":
      return authorizeNode(p, target);
    case "register":
      return authorizeRegister(p, target);
    default:
      return authorizeScope(p, r.level, r.nodes ?? false);
  }
}

function authorizeScope(p: Principal, needed: Scope, nodes: boolean): void {
  switch (p.kind) {
    case "dev":
      return;
    case "operator":
      if (scopeIncludes(p.scope, needed)) return;
      throw new PermissionDeniedError(`token "${p.name}" has the ${p.scope} scope; this call needs ${needed}`);
    case "anonymous":
      if (needed !== "admin" && (p.scopes.has(needed) || (needed === "read" && p.scopes.has("write")))) return;
      throw new UnauthenticatedError(`${NEEDS_TOKEN}: token-less callers may not make ${needed} calls`);
    case "node":
      if (nodes && needed === "read") return;
      throw new PermissionDeniedError(`a node token may only act as its own node ("${p.nodeId}")`);
    case "join":
      throw new PermissionDeniedError("the join token may only register nodes");
    case "none":
      throw new UnauthenticatedError(NEEDS_TOKEN);
  }
}

function authorizeNode(p: Principal, t: AccessTarget): void {
  switch (p.kind) {
    case "dev":
      return;
    case "operator":
      if (scopeIncludes(p.scope, "write")) return;
      throw new PermissionDeniedError(`token "${p.name}" has the ${p.scope} scope; acting for a node needs write`);
    case "node":
      if (p.nodeId === t.nodeId) return;
      throw new PermissionDeniedError(`the token of node "${p.nodeId}" cannot act for node "${t.nodeId}"`);
    case "anonymous":
      if (!p.scopes.has("node")) throw new UnauthenticatedError(`${NEEDS_TOKEN}: token-less callers may not act for nodes`);
      if (t.node && !t.node.anonymous) throw new UnauthenticatedError(`node "${t.nodeId}" holds a node token: calls for it must carry it`);
      return;
    case "join":
      throw new PermissionDeniedError("the join token may only register nodes");
    case "none":
      throw new UnauthenticatedError(`${NEEDS_TOKEN}: calls for node "${t.nodeId}" need its node token`);
  }
}

function authorizeRegister(p: Principal, t: AccessTarget): void {
  const takeover = t.node !== undefined && !t.node.anonymous;
  switch (p.kind) {
    case "dev":
    case "join":
      return;
    case "operator":
      if (scopeIncludes(p.scope, "write")) return;
      throw new PermissionDeniedError(`token "${p.name}" has the ${p.scope} scope; registering a node needs write`);
    case "node":
      if (t.node?.id === p.nodeId) return;
      throw new PermissionDeniedError(`the token of node "${p.nodeId}" may only re-register that node`);
    case "anonymous":
    case "none":
      if (!takeover && (t.openRegistration || (p.kind === "anonymous" && p.scopes.has("node")))) return;
      break;
  }
  throw new UnauthenticatedError(
    takeover
      ? `node "${t.node!.id}" is registered with a token: re-registering it needs that node token or the join token`
      : "registering a node needs the join token (or a token with the write scope)",
  );
}
