import { AlreadyExistsError, PermissionDeniedError, UnauthenticatedError } from "./errors.js";
import type { AgentKind, Node } from "./node.js";

/** Who is registering a node, as far as the rules below care. */
export interface RegistrationClaim {
  /** The path the registration came by; names are unique per kind. */
  kind: AgentKind;
  /**
   * The caller showed a credential that may register this node: the join
   * token, an operator token with write, dev standing, or the node's own token.
   */
  credentialed: boolean;
  /** A node this makes is anonymous: its agents keep no token, and token-less callers may act for it. */
  anonymous: boolean;
  /** Names in the caller's client certificate from TLS_CLIENT_CA; undefined when it presented none. */
  certNames: readonly string[] | undefined;
}

/** What the rules look at: the node the registration lands on, and the node of its kind holding the name it asks for. */
export interface RegistrationCase {
  existing: Node | undefined;
  /** The node id the registration will have (the existing one's, the requested one, or "" for a new random id). */
  nodeId: string;
  name: string;
  nameHolder: Node | undefined;
  claim: RegistrationClaim;
  /** TLS_CLIENT_CA is set: node names are identities certificates vouch for. */
  certifiedNames: boolean;
}

/**
 * The rules every registration path (RegisterNode over REST, Connect or gRPC;
 * the AgentStream hello; both /ws dialects) passes, in the registry, so no
 * path can skip one:
 *  1. a node that holds a token is re-registered only with a credential (its
 *     token, the join token, an operator's write): nobody takes it over by
 *     saying its id or name;
 *  2. a name is unique per kind of agent: a registration may not take a name
 *     another node of its kind has (agents of different systems on one host
 *     may each use the hostname);
 *  3. with mutual TLS, a node's name (what certificates vouch for) changes only
 *     in a call whose certificate names both the node and the new name.
 * Throws the error that says what to do instead.
 */
export function checkRegistration(c: RegistrationCase): void {
  const { existing, claim } = c;
  if (existing && !existing.anonymous && !claim.credentialed) {
    throw new UnauthenticatedError(
      `node "${existing.id}" (${existing.name}) is registered with a token: re-register it with that node token or the join token; ` +
        `an agent that lost its token can be let in again once an admin deletes the node`,
    );
  }
  const holder = c.nameHolder;
  if (holder && holder.id !== (existing?.id ?? c.nodeId)) {
    throw new AlreadyExistsError(
      "node name",
      c.name,
      `node "${holder.id}" registered it (${holder.agentKind || "an agent"}); register as that node (node_id "${holder.id}", with its token), ` +
        `under another name, or ask an admin to delete node "${holder.id}" first`,
    );
  }
  if (c.certifiedNames && existing && existing.name !== c.name) {
    const names = claim.certNames ?? [];
    const vouched = names.includes(c.name) && (names.includes(existing.id) || names.includes(existing.name));
    if (!vouched) {
      throw new PermissionDeniedError(
        `node "${existing.id}" is named "${existing.name}": with mutual TLS its name changes only in a call whose client certificate ` +
          `names the node and the new name "${c.name}"; or an admin deletes the node and it registers again under the new name`,
      );
    }
  }
}
