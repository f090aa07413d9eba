/** A chunk whose replica count is off its target. */
export interface ChunkState {
  id: string;
  size: number;
  /** Every holder, including offline ones still within their grace period. */
  holders: readonly string[];
  target: number;
}

/** A cache node as the planner sees it. */
export interface ChunkNode {
  id: string;
  online: boolean;
  /** Eligible and not draining: may receive copies. */
  eligible: boolean;
  /** Its failure domain (the spread label's value, "" when unset). */
  zone: string;
  /**
   * MiB it can still take: the least of its free disk from heartbeats and its
   * disk capacity less the bytes it already holds; Infinity when it reported neither.
   */
  freeMb: number;
}

/** What the planner sees. */
export interface ReplicationInput {
  chunks: readonly ChunkState[];
  nodes: readonly ChunkNode[];
  /** Chunks that already have a command under way: left alone until it ends. */
  pending: ReadonlySet<string>;
  /** At most this many new commands per node per round. */
  perNodeLimit: number;
  /** Lower is less loaded: sources are the least loaded holders, evictions hit the most loaded. */
  load: (nodeId: string) => number;
}

/** A replication decision; `nodeId` is the node that carries it out. */
export interface ChunkCommand {
  action: "replicate" | "evict";
  chunkId: string;
  nodeId: string;
  sourceNodeId: string;
  targetNodeId: string;
  /** Higher first: how far the chunk is from its target. */
  priority: number;
}

/**
 * The replication planner: a pure function of the index's misreplicated
 * chunks and the cluster to commands, most under-replicated chunks first.
 * Each decision is ranked against the copies as they stand after the
 * decisions before it (this round's copies and evictions included):
 * - a missing copy goes to an online, eligible node that does not hold the
 *   chunk and has the disk for it (after what this round already sends it),
 *   in the zone with the fewest copies, least loaded first, copied from the
 *   least loaded online holder;
 * - an extra copy is evicted from an online holder in the zone with the most
 *   copies, most loaded first; never from a zone with one copy while another
 *   zone holds two or more (it waits for a later round instead).
 * Chunks with no online holder cannot be copied and are left for the metrics.
 */
export function planReplication(input: ReplicationInput): ChunkCommand[] {
  const byId = new Map(input.nodes.map((n) => [n.id, n]));
  const zoneOf = (id: string) => byId.get(id)?.zone ?? "";
  const free = new Map(input.nodes.map((n) => [n.id, n.freeMb]));
  const budget = new Map<string, number>();
  const hasBudget = (id: string) => (budget.get(id) ?? 0) < input.perNodeLimit;
  const spend = (id: string) => budget.set(id, (budget.get(id) ?? 0) + 1);
  let candidates = input.nodes.filter((n) => n.online && n.eligible);
  const commands: ChunkCommand[] = [];
  const ordered = [...input.chunks].sort((a, b) => a.holders.length - a.target - (b.holders.length - b.target));
  for (const c of ordered) {
    // Every node's budget spent: nothing more can be sent this round.
    if (candidates.length === 0) break;
    if (input.pending.has(c.id)) continue;
    const missing = c.target - c.holders.length;
    const copies = new Map<string, number>();
    for (const h of c.holders) copies.set(zoneOf(h), (copies.get(zoneOf(h)) ?? 0) + 1);
    if (missing > 0) {
      const sources = c.holders.filter((h) => byId.get(h)?.online && hasBudget(h)).sort((a, b) => input.load(a) - input.load(b));
      if (sources.length === 0) continue;
      const holding = new Set(c.holders);
      const needMb = c.size / 1048576;
      for (let i = 0; i < missing; i++) {
        const source = sources.find(hasBudget);
        if (!source) break;
        let best: ChunkNode | undefined;
        let bestKey: [number, number] = [Infinity, Infinity];
        for (const n of candidates) {
          if (holding.has(n.id) || !hasBudget(n.id) || (free.get(n.id) ?? 0) < needMb) continue;
          const key: [number, number] = [copies.get(n.zone) ?? 0, input.load(n.id)];
          if (key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && best !== undefined && n.id < best.id)))) {
            best = n;
            bestKey = key;
          }
        }
        if (!best) break;
        spend(source);
        spend(best.id);
        holding.add(best.id);
        free.set(best.id, (free.get(best.id) ?? 0) - needMb);
        copies.set(best.zone, (copies.get(best.zone) ?? 0) + 1);
        commands.push({ action: "replicate", chunkId: c.id, nodeId: best.id, sourceNodeId: source, targetNodeId: best.id, priority: missing });
      }
      candidates = candidates.filter((n) => hasBudget(n.id));
    } else if (missing < 0) {
      const left = new Set(c.holders);
      for (let i = 0; i < -missing; i++) {
        const most = Math.max(...copies.values());
        let victim: string | undefined;
        for (const h of left) {
          if (!byId.get(h)?.online || !hasBudget(h)) continue;
          if (victim === undefined) {
            victim = h;
            continue;
          }
          const dz = (copies.get(zoneOf(h)) ?? 0) - (copies.get(zoneOf(victim)) ?? 0);
          const dl = input.load(h) - input.load(victim);
          if (dz > 0 || (dz === 0 && (dl > 0 || (dl === 0 && h < victim)))) victim = h;
        }
        // Emptying a zone while another still holds two or more copies: wait for a later round.
        if (victim === undefined || ((copies.get(zoneOf(victim)) ?? 0) === 1 && most >= 2)) break;
        spend(victim);
        left.delete(victim);
        copies.set(zoneOf(victim), (copies.get(zoneOf(victim)) ?? 0) - 1);
        commands.push({ action: "evict", chunkId: c.id, nodeId: victim, sourceNodeId: victim, targetNodeId: victim, priority: 0 });
      }
      candidates = candidates.filter((n) => hasBudget(n.id));
    }
  }
  return commands;
}
