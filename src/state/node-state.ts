import type { AgentKind, Node } from "../model/node.js";

/**
 * A change to the node view, for watchers (and, later, for peer replicas).
 * `heartbeat` marks changes of last-seen time and metrics only: the hot path,
 * which watchers that care about membership and status can skip.
 */
export type NodeChange = { type: "put"; node: Node; heartbeat: boolean } | { type: "delete"; node: Node; heartbeat: false };

/**
 * The in-memory view of nodes that every read is answered from. It is the only
 * owner of node data in memory: the domain writes here after the store has
 * made a change durable, so a later multi-replica mode can keep it coherent by
 * re-reading the store into it without touching the services.
 *
 * Node objects are treated as immutable: a change puts a new object, which lets
 * the RPC edge cache conversions by object identity.
 */
export class NodeState {
  private readonly nodes = new Map<string, Node>();
  // Kind and name → node id: names are unique per kind of agent.
  private readonly idByName = new Map<string, string>();
  // Token hash → node id: a bearer token is resolved to its node on every node call.
  private readonly idByTokenHash = new Map<string, string>();
  private sortedIds: string[] | undefined;
  private readonly listeners = new Set<(change: NodeChange) => void>();

  /** Replaces the whole view, e.g. with what the store holds at start-up. */
  load(nodes: Iterable<Node>): void {
    this.nodes.clear();
    this.idByName.clear();
    this.idByTokenHash.clear();
    this.sortedIds = undefined;
    for (const node of nodes) this.index(node);
  }

  /** The node with this id, if any. */
  get(id: string): Node | undefined {
    return this.nodes.get(id);
  }

  /** The node a kind of agent registered under this name (or one stored before kinds were recorded), if any. */
  getByName(name: string, kind: AgentKind): Node | undefined {
    const id = this.idByName.get(nameKey(kind, name)) ?? this.idByName.get(nameKey("", name));
    return id === undefined ? undefined : this.nodes.get(id);
  }

  /** The node whose token has this SHA-256 hash, if any. */
  getByTokenHash(hash: string): Node | undefined {
    const id = this.idByTokenHash.get(hash);
    return id === undefined ? undefined : this.nodes.get(id);
  }

  /** How many nodes there are. */
  get size(): number {
    return this.nodes.size;
  }

  /** Every node, ordered by id. */
  list(): Node[] {
    return this.ids().map((id) => this.nodes.get(id) as Node);
  }

  /**
   * Every node id, sorted; the same array until a node is added or removed,
   * so a page of a large fleet costs a binary search, not a copy of the fleet.
   */
  ids(): readonly string[] {
    if (this.sortedIds === undefined) this.sortedIds = [...this.nodes.keys()].sort();
    return this.sortedIds;
  }

  /** Adds or replaces a node; `heartbeat` says only last-seen time and metrics changed. */
  put(node: Node, heartbeat = false): void {
    const previous = this.nodes.get(node.id);
    if (previous && previous.name === node.name && previous.agentKind === node.agentKind && previous.tokenHash === node.tokenHash) {
      // Same names and token (every heartbeat): the indexes stay as they are.
      this.nodes.set(node.id, node);
      this.emit({ type: "put", node, heartbeat });
      return;
    }
    const before = previous && nameKey(previous.agentKind, previous.name);
    if (before && before !== nameKey(node.agentKind, node.name) && this.idByName.get(before) === node.id) this.idByName.delete(before);
    if (previous && previous.tokenHash !== node.tokenHash) this.idByTokenHash.delete(previous.tokenHash);
    if (!previous) this.sortedIds = undefined;
    this.index(node);
    this.emit({ type: "put", node, heartbeat });
  }

  /** Removes a node; returns it, or undefined when there was none. */
  remove(id: string): Node | undefined {
    const node = this.nodes.get(id);
    if (!node) return undefined;
    this.nodes.delete(id);
    if (this.idByName.get(nameKey(node.agentKind, node.name)) === id) this.idByName.delete(nameKey(node.agentKind, node.name));
    this.idByTokenHash.delete(node.tokenHash);
    this.sortedIds = undefined;
    this.emit({ type: "delete", node, heartbeat: false });
    return node;
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (change: NodeChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private index(node: Node): void {
    this.nodes.set(node.id, node);
    this.idByName.set(nameKey(node.agentKind, node.name), node.id);
    if (node.tokenHash !== "") this.idByTokenHash.set(node.tokenHash, node.id);
  }

  private emit(change: NodeChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function nameKey(kind: string, name: string): string {
  return `${kind}\u0000${name}`;
}
