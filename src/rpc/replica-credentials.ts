import { UnauthenticatedError } from "../model/errors.js";
import { SCOPES, type AnonymousScope, type Caller, type Principal, type Scope } from "../model/principal.js";
import { hashMatches, hashToken } from "../model/tokens.js";

/** CLUSTER_SECRET, sent by a replica that forwards a call to another. */
export const REPLICA_SECRET_HEADER = "capstan-replica-secret";
/** The original caller of a forwarded call: its principal and address, as JSON. */
export const ON_BEHALF_HEADER = "capstan-on-behalf-of";

/** The headers a replica sends when it forwards a call for `caller`. */
export function onBehalfHeaders(secret: string, caller: Caller): Record<string, string> {
  const p = caller.principal;
  const principal = p.kind === "anonymous" ? { ...p, scopes: [...p.scopes] } : p;
  return { [REPLICA_SECRET_HEADER]: secret, [ON_BEHALF_HEADER]: encodeURIComponent(JSON.stringify({ principal, address: caller.address })) };
}

/**
 * The original caller of a call another replica forwarded, or undefined for
 * an ordinary call (neither header). Either header without the other, or
 * without CLUSTER_SECRET (compared in constant time, by hash), is refused:
 * a client cannot name a principal of its choosing.
 */
export function forwardedCaller(header: Headers, secretHash: string | undefined): Caller | undefined {
  const carried = header.get(ON_BEHALF_HEADER);
  const secret = header.get(REPLICA_SECRET_HEADER);
  if (carried === null && secret === null) return undefined;
  if (secretHash === undefined || secret === null || !hashMatches(hashToken(secret), secretHash)) {
    throw new UnauthenticatedError(`${ON_BEHALF_HEADER} and ${REPLICA_SECRET_HEADER} are only accepted from another replica of this cluster (with its CLUSTER_SECRET)`);
  }
  if (carried === null) throw new UnauthenticatedError(`a call from another replica must say whom it is made for (${ON_BEHALF_HEADER})`);
  let parsed: { principal?: unknown; address?: unknown };
  try {
    parsed = JSON.parse(decodeURIComponent(carried)) as typeof parsed;
  } catch {
    throw new UnauthenticatedError(`${ON_BEHALF_HEADER} is not readable`);
  }
  const principal = readPrincipal(parsed.principal);
  if (!principal) throw new UnauthenticatedError(`${ON_BEHALF_HEADER} names no principal this replica knows`);
  return { principal, address: typeof parsed.address === "string" ? parsed.address : "", forwarded: true };
}

const ANONYMOUS_SCOPES = new Set<string>(["read", "write", "node"]);

function readPrincipal(v: unknown): Principal | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const p = v as Record<string, unknown>;
  const str = (k: string) => (typeof p[k] === "string" ? (p[k] as string) : undefined);
  switch (p.kind) {
    case "operator": {
      const tokenId = str("tokenId");
      const name = str("name");
      const scope = str("scope");
      if (tokenId === undefined || name === undefined || !SCOPES.includes(scope as Scope)) return undefined;
      return { kind: "operator", tokenId, name, scope: scope as Scope };
    }
    case "node": {
      const nodeId = str("nodeId");
      return nodeId ? { kind: "node", nodeId } : undefined;
    }
    case "join":
      return { kind: "join" };
    case "dev":
    case "none":
      return { kind: p.kind, peer: str("peer") ?? "" };
    case "anonymous": {
      const scopes = Array.isArray(p.scopes) ? p.scopes.filter((s): s is AnonymousScope => typeof s === "string" && ANONYMOUS_SCOPES.has(s)) : [];
      return { kind: "anonymous", peer: str("peer") ?? "", scopes: new Set(scopes) };
    }
    default:
      return undefined;
  }
}
