import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { LimitsConfig } from "../config.js";
import type { AuditLog } from "../domain/audit-log.js";
import { PermissionDeniedError } from "../domain/errors.js";
import type { NodeRegistry } from "../domain/node-registry.js";
import { describePrincipal, limitKey, type Principal } from "../domain/principal.js";
import type { TokenManager } from "../domain/token-manager.js";
import { authorize, POLICY, type AccessTarget, type Requirement } from "./access-policy.js";
import { CallRateLimiter, StreamCounter, withDeadline } from "./call-limits.js";
import { peerKey, principalKey } from "./context.js";
import { bearerToken, callPeer, resolvePrincipal, type CredentialDeps } from "./credentials.js";
import { toConnectError } from "./error-mapping.js";

/** What the guard needs. */
export interface GuardDeps {
  credentials: CredentialDeps;
  registry: NodeRegistry;
  tokens: TokenManager;
  audit: AuditLog;
  limits: LimitsConfig;
}

// Mutating calls go to the audit trail; node telemetry (heartbeats, chunk reports) does not.
const AUDITED = new Set<Requirement["level"]>(["write", "admin", "register"]);
// Request fields that name what a call is about, most specific first.
const TARGET_FIELDS = ["nodeId", "deploymentId", "projectName", "serviceName", "jobId", "tokenId", "chunkId", "name"];

/**
 * The gate every RPC passes after the boundary interceptor: it works out the
 * caller (principal), applies the per-client rate limit, checks the access
 * policy, bounds streams, puts a deadline on unary calls, ends streams whose
 * token is revoked, and records mutating calls in the audit trail, refused
 * ones included. Public calls (health, info, reflection) skip all of it.
 */
export function guardInterceptor(deps: GuardDeps): Interceptor {
  const rate = new CallRateLimiter(deps.limits.ratePerSecond);
  const streams = new StreamCounter(deps.limits.maxStreams, deps.limits.maxStreamsPerClient);
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const requirement = POLICY[rpc];
    if (requirement?.level === "public") return next(req);
    const peer = callPeer(req.contextValues.get(peerKey), req.header);
    req.contextValues.set(peerKey, peer);
    let principal: Principal = { kind: "none", peer: peer.address };
    const audited = requirement !== undefined && AUDITED.has(requirement.level);
    const record = (outcome: string, message: string) =>
      deps.audit.record({
        actor: describePrincipal(principal),
        actorKind: principal.kind,
        rpc,
        target: req.stream ? "" : targetOf(req.message),
        outcome,
        message,
        peer: peer.address,
      });
    try {
      if (!requirement) throw new PermissionDeniedError(`${rpc} is not open to any caller`);
      principal = resolveFor(requirement, req.header, peer, deps.credentials);
      req.contextValues.set(principalKey, principal);
      await rate.consume(limitKey(principal));
      authorize(principal, requirement, req.stream ? noTarget : accessTarget(requirement, req.message, deps));
      if (req.stream) {
        const release = streams.acquire(requirement.level === "agent" ? undefined : limitKey(principal));
        try {
          return guardStream((await next(req)) as StreamResponse, release, principal, deps.tokens);
        } catch (err) {
          release();
          throw err;
        }
      }
      const res = await withDeadline(next(req), deps.limits.rpcTimeoutMs);
      if (audited) record("ok", "");
      return res;
    } catch (err) {
      if (audited) {
        const { error } = toConnectError(err);
        record(codeName(error.code), error.rawMessage);
      }
      throw err;
    }
  };
}

const noTarget: AccessTarget = { nodeId: "", node: undefined, openRegistration: false };

/** Agent streams authenticate in their hello, so a header they carry must not fail the call before it. */
function resolveFor(r: Requirement, header: Headers, peer: ReturnType<typeof callPeer>, deps: CredentialDeps): Principal {
  if (r.level !== "agent") return resolvePrincipal(bearerToken(header), peer, deps);
  try {
    return resolvePrincipal(bearerToken(header), peer, deps);
  } catch {
    return { kind: "none", peer: peer.address };
  }
}

function accessTarget(r: Requirement, message: unknown, deps: GuardDeps): AccessTarget {
  const m = message as { nodeId?: string; name?: string };
  const nodeId = m.nodeId ?? "";
  const openRegistration = deps.credentials.joinHash === undefined;
  if (r.level === "register") return { nodeId, node: deps.registry.registrationTarget(nodeId, m.name ?? ""), openRegistration };
  if (r.level === "node") return { nodeId, node: nodeId === "" ? undefined : deps.registry.find(nodeId), openRegistration };
  return noTarget;
}

function targetOf(message: unknown): string {
  const m = message as Record<string, unknown>;
  for (const field of TARGET_FIELDS) {
    const v = m[field];
    if (typeof v === "string" && v !== "") return v;
  }
  return "";
}

/** "permission_denied" for Code.PermissionDenied, as Connect's JSON names codes. */
function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/** Releases the stream slot when the stream ends, and ends it if the operator's token is revoked. */
function guardStream(res: StreamResponse, release: () => void, principal: Principal, tokens: TokenManager): StreamResponse {
  const inner = res.message;
  return {
    ...res,
    message: (async function* () {
      let unsubscribe = () => {};
      const revoked =
        principal.kind === "operator"
          ? new Promise<never>((_, reject) => {
              unsubscribe = tokens.onRevoke(principal.tokenId, () => reject(new ConnectError("the token of this stream was revoked", Code.Unauthenticated)));
            })
          : undefined;
      revoked?.catch(() => {});
      const it = inner[Symbol.asyncIterator]();
      try {
        for (;;) {
          const r = revoked ? await Promise.race([it.next(), revoked]) : await it.next();
          if (r.done) return;
          yield r.value;
        }
      } finally {
        unsubscribe();
        release();
        // Not awaited: the inner stream may be waiting for an event; its handler ends with the call's signal.
        void it.return?.(undefined)?.catch(() => {});
      }
    })(),
  };
}
