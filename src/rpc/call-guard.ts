import { Code, ConnectError } from "@connectrpc/connect";
import type { LimitsConfig } from "../config/config.js";
import type { AuditRecorder } from "../model/audit.js";
import { PermissionDeniedError, UnavailableError } from "../model/errors.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import { describePrincipal, limitKey, type Caller, type Principal } from "../model/principal.js";
import type { TokenManager } from "../managers/token-manager.js";
import type { Peer } from "../shared/peer.js";
import { authorize, type AccessPolicy, type AccessTarget, type Requirement } from "./access-policy.js";
import type { AuthFailures } from "./auth-failures.js";
import { CallRateLimiter, StreamCounter } from "./call-limits.js";
import { bearerToken, resolvePrincipal, type CredentialDeps } from "./credentials.js";
import { toConnectError } from "./error-mapping.js";
import { forwardedCaller } from "./replica-credentials.js";

/** What the guard needs. */
export interface GuardDeps {
  credentials: CredentialDeps;
  registry: NodeRegistry;
  tokens: TokenManager;
  audit: AuditRecorder;
  /** Failed authentication: limited per address, recorded in a bounded way. */
  failures: AuthFailures;
  limits: LimitsConfig;
  /** What each RPC needs (accessPolicy over the served services' descriptors). */
  policy: AccessPolicy;
  /**
   * SHA-256 of CLUSTER_SECRET: calls another replica forwards with it may
   * carry their original caller; without it, no call may.
   */
  clusterSecretHash?: string;
}

/** A call about to run. */
export interface CallInfo {
  /** "capstan.v1.NodeService/Heartbeat" */
  rpc: string;
  header: Headers;
  peer: Peer;
  /** The request message of a unary call; undefined for streams. */
  message: unknown;
  /**
   * A later slice of one REST list the rate limit already counted (see
   * gateway/all-pages.ts): still authenticated and authorized, not counted
   * again, so a long list is not cut off halfway by its own slices.
   */
  uncharged?: boolean;
}

/** A call that was let in. */
export interface Admission {
  principal: Principal;
  /** The principal, its address, and whether another replica forwarded the call for it. */
  caller: Caller;
  requirement: Requirement;
  /**
   * Records the call's outcome (in the audit trail, for mutating calls): pass
   * the error on failure, the response on success. For a successful mutating
   * call it resolves once the event is stored, and the call must not answer
   * before; it rejects with Unavailable when the store cannot take the event.
   * Only the first call records.
   */
  done(err?: unknown, response?: unknown): Promise<void>;
  /** For streams: frees the stream's slot. */
  release(): void;
}

// Mutating calls go to the audit trail; node telemetry (heartbeats, chunk reports) does not.
const AUDITED = new Set<Requirement["level"]>(["write", "admin", "register"]);
// Request fields that name what a call is about, most specific first.
const TARGET_FIELDS = ["nodeId", "deploymentId", "projectName", "serviceName", "jobId", "tokenId", "chunkId", "name"];

/**
 * Lets calls in, or not: works out the caller (principal), applies the
 * per-client rate limit, checks the access policy, bounds streams, and
 * records mutating calls in the audit trail, refused ones included. Every
 * path into the handlers (the Connect interceptor, the gRPC fast path) asks
 * this one object, so they cannot disagree.
 */
export class CallGuard {
  private readonly rate: CallRateLimiter;
  private readonly streams: StreamCounter;

  constructor(private readonly deps: GuardDeps) {
    this.rate = new CallRateLimiter(deps.limits.ratePerSecond);
    this.streams = new StreamCounter(deps.limits.maxStreams, deps.limits.maxStreamsPerClient);
  }

  /** Whether anyone may make this call, with no checks at all (health, info, reflection). */
  isPublic(rpc: string): boolean {
    return this.deps.policy.get(rpc)?.level === "public";
  }

  /** Whether this is an agent stream, which authenticates in its hello (the AgentGate), not here. */
  isAgentStream(rpc: string): boolean {
    return this.deps.policy.get(rpc)?.level === "agent";
  }

  /**
   * A slot for an agent stream: it counts toward the total only (a node has one
   * live stream; hellos time out). Nothing else is checked here, and nothing
   * awaited: 10,000 agents reconnecting at once make this the hottest path.
   */
  acquireAgentStream(): () => void {
    return this.streams.acquire(undefined);
  }

  /**
   * A slot for a public stream (health Watch, reflection): no credentials
   * needed, but it counts toward the stream bounds like any other, per address.
   */
  acquirePublicStream(peer: Peer): () => void {
    return this.streams.acquire(`a:${peer.address}`);
  }

  /** The longest a unary call may run. */
  get rpcTimeoutMs(): number {
    return this.deps.limits.rpcTimeoutMs;
  }

  /** Admits a unary call (message given) or a stream (message undefined); throws why not. */
  async admit(call: CallInfo): Promise<Admission> {
    const requirement = this.deps.policy.get(call.rpc);
    // Before the caller is resolved: an address that failed too often is refused whatever it sends.
    this.deps.failures.check(call.peer.address);
    let principal: Principal = { kind: "none", peer: call.peer.address };
    let forwarded: Caller | undefined;
    const audited = requirement !== undefined && AUDITED.has(requirement.level);
    let recorded = false;
    const done = async (err?: unknown, response?: unknown): Promise<void> => {
      if (recorded) return;
      recorded = true;
      const error = err === undefined ? undefined : toConnectError(err).error;
      // Failed authentication is counted and recorded boundedly (outsiders choose its rate), reads included.
      if (error?.code === Code.Unauthenticated) {
        this.deps.failures.record({ address: call.peer.address, rpc: call.rpc, message: error.rawMessage, target: targetOf(call.message) });
        return;
      }
      if (!audited) return;
      const event = {
        actor: describePrincipal(principal),
        actorKind: principal.kind,
        rpc: call.rpc,
        target: auditTarget(call.rpc, call.message, response),
        outcome: error ? codeName(error.code) : "ok",
        message: error?.rawMessage ?? "",
        peer: forwarded?.address ?? call.peer.address,
      };
      // A refused or failed call changed nothing: its event need not hold up the answer.
      if (error) return this.deps.audit.record(event);
      try {
        await this.deps.audit.commit(event);
      } catch {
        // No Retry-After: the change itself was made, and retrying it would make it twice.
        throw new UnavailableError(`${call.rpc} was carried out, but its audit event could not be stored yet (the database is unavailable); it is kept and written when the database takes writes again`);
      }
    };
    try {
      if (!requirement) throw new PermissionDeniedError(`${call.rpc} is not open to any caller`);
      // A forwarded call carries its original caller, whom the replica it entered by has charged already.
      forwarded = forwardedCaller(call.header, this.deps.clusterSecretHash);
      principal = forwarded?.principal ?? resolvePrincipal(bearerToken(call.header), call.peer, this.deps.credentials);
      if (!forwarded && !call.uncharged && this.rate.enabled) await this.rate.consume(limitKey(principal));
      const stream = call.message === undefined;
      authorize(principal, requirement, stream ? NO_TARGET : this.target(requirement, call.message));
      const release = stream ? this.streams.acquire(limitKey(principal)) : NOTHING_TO_RELEASE;
      return { principal, caller: forwarded ?? { principal, address: call.peer.address, forwarded: false }, requirement, done, release };
    } catch (err) {
      void done(err);
      throw err;
    }
  }

  private target(r: Requirement, message: unknown): AccessTarget {
    const m = message as { nodeId?: string; name?: string };
    const nodeId = m.nodeId ?? "";
    const openRegistration = this.deps.credentials.joinHash === undefined;
    if (r.level === "register") return { nodeId, node: this.deps.registry.registrationTarget(nodeId, m.name ?? "", "rest"), openRegistration };
    if (r.level === "node") return { nodeId, node: nodeId === "" ? undefined : this.deps.registry.find(nodeId), openRegistration };
    return NO_TARGET;
  }
}

// Unary calls hold no slot; one shared function instead of a new one per call.
const NOTHING_TO_RELEASE = (): void => {};
const NO_TARGET: AccessTarget = { nodeId: "", node: undefined, openRegistration: false };

// Calls whose target is not a plain request field.
const TARGETS: Record<string, (request: Record<string, unknown>, response: Record<string, unknown> | undefined) => string> = {
  // The deployment id is chosen by the server when only a project name is given; the request's
  // node_id is where to run it, not what the call is about.
  "capstan.v1.DeploymentService/CreateDeployment": (req, res) => text(res?.deploymentId) || text(req.deploymentId) || text(req.projectName),
  // A config document: the services it applies.
  "capstan.v1.DeploymentService/Apply": (req) => {
    const services = (req.spec as { services?: Array<{ name?: unknown }> } | undefined)?.services ?? [];
    const names = services.map((s) => text(s.name)).filter((n) => n !== "").join(",");
    return names.length > MAX_TARGET ? `${names.slice(0, MAX_TARGET - 1)}…` : names;
  },
};
const MAX_TARGET = 500;

/** What a call is about: per-RPC rules first, then the request's naming fields, then the response's. */
function auditTarget(rpc: string, request: unknown, response: unknown): string {
  if (request === undefined) return "";
  const rule = TARGETS[rpc];
  if (rule) return rule(request as Record<string, unknown>, response as Record<string, unknown> | undefined);
  return targetOf(request) || targetOf(response);
}

function text(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function targetOf(message: unknown): string {
  if (message === undefined || message === null) return "";
  const m = message as Record<string, unknown>;
  for (const field of TARGET_FIELDS) {
    const v = m[field];
    if (typeof v === "string" && v !== "") return v;
  }
  return "";
}

/** "permission_denied" for Code.PermissionDenied, as Connect's JSON names codes. */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/** The error a revoked token's open stream ends with. */
export function revokedError(): ConnectError {
  return new ConnectError("the token of this stream was revoked", Code.Unauthenticated);
}
