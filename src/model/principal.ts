/**
 * Who is calling, as the server has established it. Resolved once per call
 * from the bearer token and the network peer, before any handler runs.
 */

/** Operator scopes, each including the ones before it: read < write < admin. */
export type Scope = "read" | "write" | "admin";

/** The scopes in increasing order of power. */
export const SCOPES: readonly Scope[] = ["read", "write", "admin"];

/** What token-less callers may be granted (CAPSTAN_ANONYMOUS_SCOPES): operator scopes below admin, or acting as anonymous nodes. */
export type AnonymousScope = "read" | "write" | "node";

/** A caller. */
export type Principal =
  /** An operator API token. */
  | { kind: "operator"; tokenId: string; name: string; scope: Scope }
  /** A node's own token: it may act only as that node. */
  | { kind: "node"; nodeId: string }
  /** The cluster join token: it may only register nodes. */
  | { kind: "join" }
  /** A token-less caller on loopback while CAPSTAN_DEV=1: everything. */
  | { kind: "dev"; peer: string }
  /** A token-less caller granted CAPSTAN_ANONYMOUS_SCOPES from an allowed network. */
  | { kind: "anonymous"; peer: string; scopes: ReadonlySet<AnonymousScope> }
  /** No credentials, or none that count. */
  | { kind: "none"; peer: string };

/** Whether `held` includes `needed` (read < write < admin). */
export function scopeIncludes(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** A short, secret-free name for logs and the audit trail: "operator:ci", "node:n1", "dev". */
export function describePrincipal(p: Principal): string {
  switch (p.kind) {
    case "operator":
      return `operator:${p.name}`;
    case "node":
      return `node:${p.nodeId}`;
    default:
      return p.kind;
  }
}

/** A key for per-caller limits: the token or node for credentialed callers, the address otherwise. */
export function limitKey(p: Principal): string {
  switch (p.kind) {
    case "operator":
      return `t:${p.tokenId}`;
    case "node":
      return `n:${p.nodeId}`;
    case "join":
      return "join";
    default:
      return `a:${p.peer}`;
  }
}

/**
 * A caller as handlers see it: the principal the guard admitted, the address
 * it called from, and whether another replica made the call on its behalf
 * (authenticated by CLUSTER_SECRET; such a call is never forwarded again).
 */
export interface Caller {
  readonly principal: Principal;
  readonly address: string;
  readonly forwarded: boolean;
}
