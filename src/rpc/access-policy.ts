import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { access, AccessLevel } from "../../gen/proto/capstan/v1/access_options_pb.js";
import { PermissionDeniedError, UnauthenticatedError } from "../model/errors.js";
import type { Node } from "../model/node.js";
import { scopeIncludes, SCOPES, type Principal, type Scope } from "../model/principal.js";

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

// A level number this build does not know (a newer contract) maps to nothing: refused.
const LEVELS: Readonly<Record<AccessLevel, Requirement["level"] | undefined>> = {
  [AccessLevel.UNSPECIFIED]: undefined,
  [AccessLevel.PUBLIC]: "public",
  [AccessLevel.ANY]: "any",
  [AccessLevel.READ]: "read",
  [AccessLevel.WRITE]: "write",
  [AccessLevel.ADMIN]: "admin",
  [AccessLevel.NODE]: "node",
  [AccessLevel.REGISTER]: "register",
  [AccessLevel.AGENT]: "agent",
};
const isScope = (level: string): level is Scope => (SCOPES as readonly string[]).includes(level);

/**
 * Methods the server serves but does not define (gRPC health and reflection):
 * their protos are not ours to annotate, so their rule is written here.
 */
export const THIRD_PARTY_PUBLIC: readonly string[] = [
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
  "grpc.health.v1.Health/List",
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/**
 * Prometheus' scrape of GET /metrics: not a proto method, but it passes the
 * call pipeline under this name like any call (credentials, rate limit,
 * failed-authentication throttle), so its rule is written here: read scope
 * (a `read` token, or token-less callers granted read from their networks).
 */
export const METRICS_SCRAPE = "GET /metrics";

/** Endpoints outside the proto contract that pass the call pipeline, and what they need. */
const NON_PROTO: ReadonlyArray<[string, Requirement]> = [[METRICS_SCRAPE, { level: "read" }]];

/** What each served RPC ("capstan.v1.NodeService/Heartbeat") needs; a method missing here is refused. */
export type AccessPolicy = ReadonlyMap<string, Requirement>;

/**
 * A method's requirement, read from its `capstan.v1.access` option
 * (proto/capstan/v1/access_options.proto); undefined when it has none, or
 * an unspecified level, so that the method is refused (fail closed).
 * Throws on a rule the server cannot apply (node tokens on a non-scope level).
 */
export function requirementOf(method: DescMethod): Requirement | undefined {
  if (!hasOption(method, access)) return undefined;
  const rule = getOption(method, access);
  const level = LEVELS[rule.level];
  if (level === undefined) return undefined;
  if (!rule.nodes) return { level };
  if (!isScope(level)) throw new Error(`${method.parent.typeName}/${method.name}: the access option sets nodes on level ${level}; only read, write and admin take it`);
  return { level, nodes: true };
}

/**
 * The access policy of the given services, read from their descriptors, plus
 * the third-party methods (public) and GET /metrics (read). Built once by the
 * composition root.
 */
export function accessPolicy(services: readonly DescService[]): AccessPolicy {
  const policy = new Map<string, Requirement>([...THIRD_PARTY_PUBLIC.map((rpc): [string, Requirement] => [rpc, { level: "public" }]), ...NON_PROTO]);
  for (const service of services) {
    for (const method of service.methods) {
      const requirement = requirementOf(method);
      if (requirement) policy.set(`${service.typeName}/${method.name}`, requirement);
    }
  }
  return policy;
}

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
 * Whether a registration by `p` carries a credential that may re-register a
 * node holding a token (NodeRegistry applies that rule): the join token, dev
 * standing, an operator (authorize has checked the scope), or a node's own
 * token (authorize has checked it is that node).
 */
export function registersWithCredential(p: Principal): boolean {
  return p.kind === "join" || p.kind === "dev" || p.kind === "operator" || p.kind === "node";
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
      // Whether the node it lands on may be taken without a credential is the registry's rule (one place for every path).
      if (t.openRegistration || (p.kind === "anonymous" && p.scopes.has("node"))) return;
      break;
  }
  throw new UnauthenticatedError("registering a node needs the join token (or a token with the write scope)");
}
