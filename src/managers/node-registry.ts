import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { NodeState } from "../state/node-state.js";
import { NotFoundError, NotLeaderError, PermissionDeniedError, UnauthenticatedError } from "../model/errors.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import type { AgentKind, Node, NodeEligibility, NodeMetrics } from "../model/node.js";
import type { HeartbeatInput, ListNodesInput, RegisterNodeInput } from "../model/node-input.js";
import { NODE_ID_ORDER, NODE_ORDER, parseLabelSelector } from "../model/node-query.js";
import { pageOfSorted, pageRequest } from "../model/pagination.js";
import type { NodeStore } from "../model/node-store.js";
import type { UnitOfWork } from "../model/unit-of-work.js";
import { hashToken, newToken, tokenMatches } from "../model/tokens.js";
import { validateHeartbeat, validateRegistration } from "../model/node-validation.js";
import { requireId } from "../model/validate.js";
import { checkRegistration, type RegistrationClaim } from "../model/registration-rules.js";

/** What NodeRegistry needs from its surroundings. */
export interface NodeRegistryDeps {
  store: NodeStore;
  state: NodeState;
  logger: Logger;
  /** TLS_CLIENT_CA is set: node names are identities client certificates vouch for. */
  certifiedNames?: boolean;
  /** Injected so tests control time. */
  now?: () => Date;
}

/** A page of nodes. */
export interface NodePage {
  nodes: Node[];
  count: number;
  nextPageToken: string;
}

/**
 * The node domain: registration, reads, heartbeats, eligibility and drain.
 * Writes reach the store before memory so an acknowledged write survives a
 * crash; heartbeats touch memory only, and the LivenessMonitor persists them
 * in batches and on status transitions.
 */
export class NodeRegistry {
  private readonly lock = new KeyedLock();
  private readonly now: () => Date;
  /** Nodes whose last-seen time or metrics changed since the last flush. */
  readonly dirty = new Set<string>();

  constructor(private readonly deps: NodeRegistryDeps) {
    this.now = deps.now ?? (() => new Date());
    this.certifiedNames = deps.certifiedNames ?? false;
  }

  private readonly certifiedNames: boolean;

  /**
   * Creates or updates a node and issues it a fresh token, after the rules
   * every registration path shares (registration-rules.ts). A registration
   * without a node id lands on the node of its kind with that name.
   */
  async register(input: RegisterNodeInput, claim: RegistrationClaim): Promise<{ node: Node; token: string }> {
    // Re-registering without a name keeps the node's name (validation would default it to the id).
    const known = input.nodeId !== "" && input.name === "" ? this.deps.state.get(input.nodeId) : undefined;
    const valid = validateRegistration(known ? { ...input, name: known.name } : input);
    const key = valid.nodeId !== "" ? `id:${valid.nodeId}` : `name:${claim.kind}:${valid.name}`;
    return this.lock.run(key, async () => {
      const existing = this.registrationTarget(valid.nodeId, valid.name, claim.kind);
      const kind = existing?.agentKind || claim.kind;
      checkRegistration({
        existing, nodeId: valid.nodeId, name: valid.name, nameHolder: this.deps.state.getByName(valid.name, kind), claim, certifiedNames: this.certifiedNames,
      });
      const token = newToken("cpn");
      const node = await this.save(existing, valid, hashToken(token), claim.anonymous && !claim.credentialed, kind);
      this.deps.logger.info({ nodeId: node.id, name: node.name, kind, created: !existing }, "node registered");
      return { node, token };
    });
  }

  /**
   * Updates what a node's agent reports about itself (address, labels,
   * capabilities...) and marks it online, keeping its token. The caller has
   * authenticated as the node; the name rules still apply.
   */
  async refresh(nodeId: string, input: RegisterNodeInput, claim: RegistrationClaim): Promise<Node> {
    const named = input.name === "" ? { ...input, name: this.deps.state.get(nodeId)?.name ?? "" } : input;
    const valid = validateRegistration({ ...named, nodeId });
    return this.lock.run(`id:${nodeId}`, async () => {
      const existing = this.get(nodeId);
      const kind = existing.agentKind || claim.kind;
      checkRegistration({
        existing, nodeId, name: valid.name, nameHolder: this.deps.state.getByName(valid.name, kind), claim, certifiedNames: this.certifiedNames,
      });
      return this.save(existing, valid, existing.tokenHash, existing.anonymous, kind);
    });
  }

  /** The node a registration with this id (or, without one, this name among its kind's nodes) would update, if any. */
  registrationTarget(nodeId: string, name: string, kind: AgentKind): Node | undefined {
    return nodeId !== "" ? this.deps.state.get(nodeId) : this.deps.state.getByName(name, kind);
  }

  /**
   * The node a token belongs to. A token that is another node's is
   * PermissionDenied (it is valid, just not for this node); anything else that
   * is not this node's own token is Unauthenticated.
   */
  authenticate(nodeId: string, token: string): Node {
    const node = nodeId === "" ? undefined : this.deps.state.get(nodeId);
    if (node && token !== "" && tokenMatches(token, node.tokenHash)) return node;
    const owner = token === "" ? undefined : this.nodeForToken(token);
    if (owner) throw new PermissionDeniedError(`the token of node "${owner.id}" cannot act for node "${nodeId}"`);
    throw new UnauthenticatedError("missing or invalid node token");
  }

  /** The node a bearer token belongs to, if it is a node token. */
  nodeForToken(token: string): Node | undefined {
    return this.nodeForTokenHash(hashToken(token));
  }

  /** As nodeForToken, for a token already hashed (hashToken). */
  nodeForTokenHash(tokenHash: string): Node | undefined {
    return this.deps.state.getByTokenHash(tokenHash);
  }

  private async save(existing: Node | undefined, valid: RegisterNodeInput, tokenHash: string, anonymous: boolean, agentKind: AgentKind | ""): Promise<Node> {
    const now = this.now();
    const node: Node = {
      id: existing?.id ?? (valid.nodeId || randomUUID()),
      name: valid.name,
      address: valid.address,
      labels: valid.labels,
      tags: valid.tags,
      capabilities: valid.capabilities,
      ports: valid.ports,
      status: "online",
      eligibility: existing?.eligibility ?? "eligible",
      draining: existing?.draining ?? false,
      agentVersion: valid.agentVersion,
      tokenHash,
      anonymous,
      agentKind,
      metrics: existing?.metrics,
      lastHeartbeatAt: now,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    // A node not in memory is not stored either (memory follows the store), and the
    // caller's lock keeps another registration of it out: a plain insert will do.
    await (existing ? this.deps.store.upsert(node) : this.deps.store.insert(node));
    this.deps.state.put(node);
    this.dirty.delete(node.id);
    return node;
  }

  /** Lists nodes matching the filter, a page at a time, ordered by id (see model/pagination.ts). */
  list(input: ListNodesInput): NodePage {
    const selector = parseLabelSelector(input.labelSelector);
    const req = pageRequest(NODE_ORDER, input);
    const { state } = this.deps;
    if (input.status === undefined && input.tag === "" && selector.length === 0) {
      // Unfiltered (every seed list): a page of the sorted ids, without touching the rest of the fleet.
      const ids = state.ids();
      const page = pageOfSorted(ids, NODE_ID_ORDER, req);
      return { nodes: page.items.map((id) => state.get(id) as Node), count: ids.length, nextPageToken: page.nextPageToken };
    }
    const matches = state
      .list()
      .filter(
        (n) =>
          (input.status === undefined || n.status === input.status) &&
          (input.tag === "" || n.tags.includes(input.tag)) &&
          selector.every(([k, v]) => n.labels[k] === v),
      );
    const page = pageOfSorted(matches, NODE_ORDER, req);
    return { nodes: page.items, count: matches.length, nextPageToken: page.nextPageToken };
  }

  /** Every node, ordered by id. */
  all(): Node[] {
    return this.deps.state.list();
  }

  /** The node with this id, or undefined. */
  find(nodeId: string): Node | undefined {
    return this.deps.state.get(nodeId);
  }

  /** Returns a node or throws NotFound. */
  get(nodeId: string): Node {
    requireId("node_id", nodeId);
    const node = this.deps.state.get(nodeId);
    if (!node) throw new NotFoundError("node", nodeId);
    return node;
  }

  /**
   * Records a heartbeat. Memory only, unless the node comes back online: that
   * transition is persisted before the call returns.
   */
  async heartbeat(nodeId: string, metrics: HeartbeatInput): Promise<Node> {
    const valid: NodeMetrics = validateHeartbeat(metrics);
    const current = this.get(nodeId);
    const now = this.now();
    if (current.status === "online") {
      const node = { ...current, metrics: valid, lastHeartbeatAt: now };
      this.deps.state.put(node, true);
      this.dirty.add(nodeId);
      return node;
    }
    return this.lock.run(`id:${nodeId}`, async () => {
      const latest = this.get(nodeId);
      const node: Node = { ...latest, status: "online", metrics: valid, lastHeartbeatAt: now, updatedAt: now };
      await this.deps.store.setStatus(nodeId, "online", now, { lastHeartbeatAt: now, metrics: valid });
      this.deps.state.put(node);
      this.dirty.add(nodeId);
      this.deps.logger.info({ nodeId }, "node online");
      return node;
    });
  }

  /**
   * Marks a node offline. Memory changes first and the store write is queued
   * behind the node's lock, so a heartbeat racing with it is persisted after it.
   * With decisions (the leader's fenced transactions), the write is one of them.
   */
  async markOffline(nodeId: string, decisions?: UnitOfWork): Promise<void> {
    const current = this.deps.state.get(nodeId);
    if (!current || current.status === "offline") return;
    const now = this.now();
    const offline: Node = { ...current, status: "offline", updatedAt: now };
    this.deps.state.put(offline);
    try {
      await this.lock.run(`id:${nodeId}`, () =>
        decisions ? decisions.transaction((tx) => tx.nodes.setStatus(nodeId, "offline", now)) : this.deps.store.setStatus(nodeId, "offline", now),
      );
    } catch (err) {
      // A refused decision (another replica leads): the view goes back unless a heartbeat moved it on.
      if (err instanceof NotLeaderError && this.deps.state.get(nodeId) === offline) this.deps.state.put(current);
      throw err;
    }
    this.deps.logger.info({ nodeId, lastHeartbeat: current.lastHeartbeatAt }, "node offline");
  }

  /** Marks a node online without metrics, e.g. when its agent stream opens. */
  async touch(nodeId: string): Promise<Node> {
    const current = this.get(nodeId);
    return this.heartbeat(nodeId, current.metrics ?? emptyMetrics());
  }

  /** Makes a node eligible or ineligible for new work. */
  async setEligibility(nodeId: string, eligibility: NodeEligibility): Promise<Node> {
    return this.update(nodeId, (n) => ({ ...n, eligibility, draining: eligibility === "eligible" ? false : n.draining }));
  }

  /** Starts a drain (ineligible, draining), or ends one (eligible again). */
  async drain(nodeId: string, cancel: boolean): Promise<Node> {
    return this.update(nodeId, (n) =>
      cancel ? { ...n, eligibility: "eligible", draining: false } : { ...n, eligibility: "ineligible", draining: true },
    );
  }

  /** Removes a node and with it its token. */
  async delete(nodeId: string): Promise<void> {
    this.get(nodeId);
    await this.lock.run(`id:${nodeId}`, async () => {
      await this.deps.store.delete(nodeId);
      this.deps.state.remove(nodeId);
      this.dirty.delete(nodeId);
      this.deps.logger.info({ nodeId }, "node deleted");
    });
  }

  private async update(nodeId: string, change: (node: Node) => Node): Promise<Node> {
    this.get(nodeId);
    return this.lock.run(`id:${nodeId}`, async () => {
      const node = { ...change(this.get(nodeId)), updatedAt: this.now() };
      await this.deps.store.upsert(node);
      this.deps.state.put(node);
      return node;
    });
  }
}

/** Metrics with every figure zero. */
export function emptyMetrics(): NodeMetrics {
  return {
    cpuUsage: 0, memUsage: 0, diskFreeMb: 0, runningContainers: [], memoryUsedMb: 0, diskUsedMb: 0,
    cacheHitRate: 0, totalChunks: 0, activeConnections: 0, uploadSpeedMbps: 0, downloadSpeedMbps: 0, load1: 0,
  };
}
