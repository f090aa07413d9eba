import type { Logger } from "pino";
import type { AuditRecorder } from "../model/audit.js";
import { DomainError, PermissionDeniedError, UnauthenticatedError } from "../model/errors.js";
import type { AgentKind, Node } from "../model/node.js";
import type { RegisterNodeInput } from "../model/node-input.js";
import type { NodeRegistry } from "../managers/node-registry.js";
import { hashToken, tokenMatches } from "../model/tokens.js";
import type { Peer } from "../shared/peer.js";

/** Who an agent says it is when it connects. */
export interface AgentHelloInput extends RegisterNodeInput {
  /** The node's own token from an earlier registration, if it has one. */
  nodeToken: string;
  /** The cluster join token, for a first registration. */
  joinToken: string;
}

/** The outcome of admitting an agent. */
export interface Admission {
  node: Node;
  /** Set when a new node token was issued; the agent must store it. */
  newToken: string | undefined;
}

/** What the gate needs of the server's failed-authentication limiter (src/rpc/auth-failures.ts). */
export interface JoinFailures {
  /** Throws (ResourceExhausted) when the address failed too often. */
  check(address: string): void;
  record(failure: { address: string; rpc: string; message: string; target?: string }): void;
  retryAfterSeconds(address: string): number | undefined;
}

/** How the gate checks agents. */
export interface AgentGateOptions {
  /** CAPSTAN_JOIN_TOKEN; unset means open registration. */
  joinToken: string | undefined;
  /** TLS_CLIENT_CA is set: agents must present a client certificate naming their node. */
  requireClientCert: boolean;
  /** Where registrations are recorded. */
  audit?: AuditRecorder;
  /** Where failed joins are limited and recorded (the server's AuthFailures). */
  failures?: JoinFailures;
}

/**
 * Admits agents. A node that presents its own token is the node it says it
 * is; anything else must present the join token (CAPSTAN_JOIN_TOKEN) and is
 * registered, or re-registered, with a fresh token. Without a configured join
 * token registration is open, for development; the server warns at start-up.
 * With mutual TLS on, the agent's certificate must also name the node (its id
 * or name), so a stolen token alone does not get in.
 */
export class AgentGate {
  /** SHA-256 of the join token, when one is configured. */
  readonly joinHash: string | undefined;

  constructor(
    private readonly registry: NodeRegistry,
    private readonly options: AgentGateOptions,
    private readonly logger: Logger,
  ) {
    this.joinHash = options.joinToken === undefined ? undefined : hashToken(options.joinToken);
  }

  /** Whether registration needs no join token. */
  get open(): boolean {
    return this.joinHash === undefined;
  }

  /** Checks a join token; throws Unauthenticated unless it is right (or registration is open). */
  checkJoinToken(token: string): void {
    if (this.joinHash !== undefined && !tokenMatches(token, this.joinHash)) {
      throw new UnauthenticatedError("a valid join token is required to register a node");
    }
  }

  /**
   * Admits an agent by its node token or the join token (and, with mutual TLS,
   * its certificate), registering or re-registering its node. `kind` is the
   * path it came by: the /ws dialects' agents never keep a node token, so a
   * node they register without the join token is anonymous (and only such a
   * node is theirs to take again without it). The registry applies the rules
   * every registration path shares: nobody takes over a node that holds a
   * token without a credential, names are unique per kind.
   */
  async admit(hello: AgentHelloInput, peer: Peer | undefined, kind: AgentKind): Promise<Admission> {
    const address = peer?.address ?? "";
    this.options.failures?.check(address);
    try {
      return await this.admitChecked(hello, peer, kind);
    } catch (err) {
      if (err instanceof DomainError && err.kind === "unauthenticated") {
        this.options.failures?.record({ address, rpc: joinPath(kind), message: err.message, target: hello.nodeId || hello.name });
      }
      throw err;
    }
  }

  /** Seconds until an address that failed to authenticate too often may try again (for refusing /ws handshakes early). */
  retryAfterSeconds(address: string): number | undefined {
    return this.options.failures?.retryAfterSeconds(address);
  }

  private async admitChecked(hello: AgentHelloInput, peer: Peer | undefined, kind: AgentKind): Promise<Admission> {
    if (this.options.requireClientCert) this.checkCertificate(hello, peer, kind);
    const certNames = peer?.certNames;
    if (hello.nodeId !== "" && hello.nodeToken !== "") {
      this.registry.authenticate(hello.nodeId, hello.nodeToken);
      const node = await this.registry.refresh(hello.nodeId, hello, { kind, credentialed: true, anonymous: false, certNames });
      return { node, newToken: undefined };
    }
    this.checkJoinToken(hello.joinToken);
    const { node, token } = await this.registry.register(hello, { kind, credentialed: !this.open, anonymous: this.open && kind !== "grpc", certNames });
    this.logger.info({ nodeId: node.id, kind }, this.open ? "agent registered (open registration)" : "agent registered with the join token");
    this.options.audit?.record({
      actor: this.open ? "none" : "join",
      actorKind: this.open ? "none" : "join",
      rpc: joinPath(kind),
      target: node.id,
      outcome: "ok",
      message: "registered",
      peer: peer?.address ?? "",
    });
    return { node, newToken: token };
  }

  private checkCertificate(hello: AgentHelloInput, peer: Peer | undefined, kind: AgentKind): void {
    const names = peer?.certNames;
    if (!names) throw new UnauthenticatedError("agents need a client certificate signed by the cluster CA (TLS_CLIENT_CA)");
    // The node acted on: by id when the agent names one (its stored name counts, not a new one in the hello), else by name.
    const existing = hello.nodeId !== "" ? this.registry.find(hello.nodeId) : this.registry.registrationTarget("", hello.name, kind);
    const identities = hello.nodeId !== "" ? [hello.nodeId, existing?.name] : [hello.name, existing?.id];
    if (!names.some((n) => identities.includes(n))) {
      throw new PermissionDeniedError(`the client certificate names ${names.map((n) => `"${n}"`).join(", ")}, not node "${hello.nodeId || hello.name}"`);
    }
  }
}

/** How the audit trail names the way an agent joined. */
function joinPath(kind: AgentKind): string {
  return kind === "grpc" ? "capstan.v1.AgentService/AgentStream" : `/ws (${kind})`;
}
