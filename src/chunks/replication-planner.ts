import type { NodeSnapshot } from "../orchestrator/snapshot.js";

/** A chunk whose replica count is off its target. */
export interface ChunkState {
  id: string;
  size: number;
  /** Every holder, including offline ones still within their grace period. */
  holders: readonly string[];
  target: number;
}

/** What the planner sees. */
export interface ReplicationInput {
  chunks: readonly ChunkState[];
  /** Cache nodes as the scheduler sees them (online, eligible, zone label, disk). */
  nodes: readonly NodeSnapshot[];
  /** Chunks that already have a command under way: left alone until it ends. */
  pending: ReadonlySet<string>;
  /** At most this many new commands per node per round. */
  perNodeLimit: number;
  /** Failure-domain label to spread replicas over, e.g. "zone". */
  spreadLabel: string;
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
 * chunks and the cluster to commands. Under-replicated chunks are copied from
 * their least loaded online holder to online, eligible nodes that do not
 * hold it and have disk for it, in the failure domain with the fewest copies,
 * least loaded first; over-replicated ones are evicted from the holder in the most crowded
 * domain, most loaded first. Chunks with no online holder cannot be copied
 * and are left for the metrics to show.
 */
export function planReplication(input: ReplicationInput): ChunkCommand[] {
  const online = new Set(input.nodes.filter((n) => n.online).map((n) => n.id));
  const zoneOf = new Map(input.nodes.map((n) => [n.id, n.labels[input.spreadLabel] ?? ""]));
  const budget = new Map<string, number>();
  const take = (nodeId: string) => {
    const used = budget.get(nodeId) ?? 0;
    if (used >= input.perNodeLimit) return false;
    budget.set(nodeId, used + 1);
    return true;
  };
  let candidates = input.nodes.filter((n) => n.online && n.eligible);
  const chosen = new Set<string>();
  const commands: ChunkCommand[] = [];
  const ordered = [...input.chunks].sort((a, b) => a.holders.length - a.target - (b.holders.length - b.target));
  for (const c of ordered) {
    // Every node's budget spent: nothing more can be sent this round.
    if (candidates.length === 0) break;
    if (input.pending.has(c.id)) continue;
    const missing = c.target - c.holders.length;
    if (missing > 0) {
      // Sources with budget left, checked before any candidate is scanned: cheap when a round is full.
      const sources = c.holders.filter((h) => online.has(h) && (budget.get(h) ?? 0) < input.perNodeLimit).sort((a, b) => input.load(a) - input.load(b));
      if (sources.length === 0) continue;
      const holderZones = new Map<string, number>();
      for (const h of c.holders) holderZones.set(zoneOf.get(h) ?? "", (holderZones.get(zoneOf.get(h) ?? "") ?? 0) + 1);
      const needMb = c.size / 1048576;
      for (let i = 0; i < missing; i++) {
        // Fewest replicas in the zone first, then least loaded: a copy lands in another failure domain when one exists.
        let best: NodeSnapshot | undefined;
        let bestKey: [number, number] = [Infinity, Infinity];
        for (const n of candidates) {
          if (c.holders.includes(n.id) || chosen.has(`${c.id}\u0000${n.id}`) || (budget.get(n.id) ?? 0) >= input.perNodeLimit) continue;
          if (n.capacity.diskMb > 0 && n.capacity.diskMb - n.used.diskMb < needMb) continue;
          const key: [number, number] = [holderZones.get(zoneOf.get(n.id) ?? "") ?? 0, input.load(n.id)];
          if (key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
            best = n;
            bestKey = key;
          }
        }
        const source = sources[i % sources.length];
        if (!best || !take(source)) break;
        take(best.id);
        if ((budget.get(best.id) ?? 0) >= input.perNodeLimit) candidates = candidates.filter((n) => n !== best);
        chosen.add(`${c.id}\u0000${best.id}`);
        holderZones.set(zoneOf.get(best.id) ?? "", bestKey[0] + 1);
        commands.push({ action: "replicate", chunkId: c.id, nodeId: best.id, sourceNodeId: source, targetNodeId: best.id, priority: missing });
      }
    } else if (missing < 0) {
      const byZone = new Map<string, number>();
      for (const h of c.holders) byZone.set(zoneOf.get(h) ?? "", (byZone.get(zoneOf.get(h) ?? "") ?? 0) + 1);
      const victims = c.holders
        .filter((h) => online.has(h))
        .sort((a, b) => (byZone.get(zoneOf.get(b) ?? "") ?? 0) - (byZone.get(zoneOf.get(a) ?? "") ?? 0) || input.load(b) - input.load(a) || (a < b ? -1 : 1));
      for (const v of victims.slice(0, -missing)) {
        if (!take(v)) continue;
        commands.push({ action: "evict", chunkId: c.id, nodeId: v, sourceNodeId: v, targetNodeId: v, priority: 0 });
        byZone.set(zoneOf.get(v) ?? "", (byZone.get(zoneOf.get(v) ?? "") ?? 1) - 1);
      }
    }
  }
  return commands;
}
