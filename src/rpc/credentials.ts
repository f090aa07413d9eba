import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { AuthConfig } from "../config/config.js";
import { UnauthenticatedError } from "../model/errors.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import type { Principal } from "../model/principal.js";
import type { TokenManager } from "../managers/token-manager.js";
import { hashMatches, hashToken } from "../model/tokens.js";
import { ON_BEHALF_HEADER, REPLICA_SECRET_HEADER } from "./replica-credentials.js";
import { GATEWAY_PEER_HEADER, GATEWAY_SLICE_HEADER, isLoopback, type Peer } from "../shared/peer.js";

/** What resolving a caller needs. */
export interface CredentialDeps {
  tokens: TokenManager;
  registry: NodeRegistry;
  /** SHA-256 of CAPSTAN_JOIN_TOKEN, when one is configured. */
  joinHash: string | undefined;
  auth: AuthConfig;
}

// The replica headers too: the guard refuses a call that carries one without the other or the secret, on every path.
const CREDENTIAL_HEADERS = ["authorization", "x-capstan-node-token", REPLICA_SECRET_HEADER, ON_BEHALF_HEADER];

/**
 * The credential headers of a Node request, as the Headers that bearerToken
 * reads: what the gRPC fast paths, which build no Connect context, pass on.
 */
export function credentialHeaders(req: IncomingMessage | Http2ServerRequest): Headers {
  const header = new Headers();
  for (const name of CREDENTIAL_HEADERS) {
    const v = req.headers[name];
    if (typeof v === "string") header.set(name, v);
  }
  return header;
}

/** The bearer token of a request: `Authorization: Bearer`, or seed clients' `X-Capstan-Node-Token`. */
export function bearerToken(header: Headers): string {
  const value = header.get("authorization") ?? "";
  if (value.toLowerCase().startsWith("bearer ")) return value.slice(7).trim();
  return (header.get("x-capstan-node-token") ?? "").trim();
}

/**
 * The peer of a call: from the Connect adapter for network calls; for the
 * REST gateway's in-process calls (which have none) from the header the
 * gateway sets. A network caller cannot forge that header: its calls always
 * have a peer from the adapter, and the header is then ignored.
 */
export function callPeer(fromAdapter: Peer | undefined, header: Headers): Peer {
  if (fromAdapter) return fromAdapter;
  const carried = header.get(GATEWAY_PEER_HEADER);
  if (carried) {
    try {
      const p = JSON.parse(carried) as Peer;
      return { address: String(p.address ?? ""), certNames: Array.isArray(p.certNames) ? p.certNames.map(String) : undefined };
    } catch {
      // fall through: an unreadable header vouches for nothing
    }
  }
  return { address: "", certNames: undefined };
}

/**
 * Whether a call continues a REST list the gateway already admitted (its
 * later slices): only in-process calls can say so, as with the peer header.
 */
export function isGatewaySlice(fromAdapter: Peer | undefined, header: Headers): boolean {
  return fromAdapter === undefined && header.get(GATEWAY_SLICE_HEADER) === "1";
}

/**
 * Who is calling. A bearer token must be an operator token, the join token
 * or a node token; any other token is Unauthenticated (never silently
 * anonymous). Without a token: on loopback in dev mode the caller may do
 * anything; from an allowed network it gets CAPSTAN_ANONYMOUS_SCOPES;
 * otherwise it is nobody.
 */
export function resolvePrincipal(token: string, peer: Peer, deps: CredentialDeps): Principal {
  if (token !== "") {
    // Hashed once: operator, join and node tokens are all looked up by their SHA-256.
    const hash = hashToken(token);
    const operator = deps.tokens.authenticateHash(hash);
    if (operator) return operator;
    if (deps.joinHash !== undefined && hashMatches(hash, deps.joinHash)) return { kind: "join" };
    const node = deps.registry.nodeForTokenHash(hash);
    if (node) return { kind: "node", nodeId: node.id };
    throw new UnauthenticatedError("the bearer token is not valid (unknown, revoked or expired)");
  }
  const { auth } = deps;
  if (auth.dev && isLoopback(peer.address)) return { kind: "dev", peer: peer.address };
  if (auth.anonymousScopes.size > 0 && allowed(peer.address, auth)) {
    return { kind: "anonymous", peer: peer.address, scopes: auth.anonymousScopes };
  }
  return { kind: "none", peer: peer.address };
}

function allowed(address: string, auth: AuthConfig): boolean {
  if (!auth.anonymousNetworks) return true;
  if (address === "") return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)?.[1];
  return v4 ? auth.anonymousNetworks.check(v4, "ipv4") : auth.anonymousNetworks.check(address, address.includes(":") ? "ipv6" : "ipv4");
}
