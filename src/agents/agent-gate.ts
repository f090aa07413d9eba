import type { Logger } from "pino";
import { UnauthenticatedError } from "../domain/errors.js";
import type { Node } from "../domain/node.js";
import type { RegisterNodeInput } from "../domain/node-input.js";
import type { NodeRegistry } from "../domain/node-registry.js";
import { hashToken, tokenMatches } from "../domain/tokens.js";

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

/**
 * Admits agents. A node that presents its own token is the node it says it
 * is; anything else must present the join token (CAPSTAN_JOIN_TOKEN) and is
 * registered, or re-registered, with a fresh token. Without a configured join
 * token registration is open, for development; the server warns at start-up.
 */
export class AgentGate {
  private readonly joinHash: string | undefined;

  constructor(
    private readonly registry: NodeRegistry,
    joinToken: string | undefined,
    private readonly logger: Logger,
  ) {
    this.joinHash = joinToken === undefined ? undefined : hashToken(joinToken);
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

  /** Admits an agent by its node token or the join token. */
  async admit(hello: AgentHelloInput): Promise<Admission> {
    if (hello.nodeId !== "" && hello.nodeToken !== "") {
      this.registry.authenticate(hello.nodeId, hello.nodeToken);
      const node = await this.registry.refresh(hello.nodeId, hello);
      return { node, newToken: undefined };
    }
    this.checkJoinToken(hello.joinToken);
    const { node, token } = await this.registry.register(hello);
    this.logger.info({ nodeId: node.id }, "agent registered with the join token");
    return { node, newToken: token };
  }
}
