import type { PlacementRequirements } from "../model/placement.js";
import { FILTERS } from "./filters.js";
import { DEFAULT_STRATEGY, round, score } from "./scoring.js";
import type { ClusterSnapshot, NodeSnapshot, ResourceAmounts } from "./snapshot.js";

/** Place `count` units of a group that need `requirements`. */
export interface PlacementRequest {
  requirements: PlacementRequirements;
  count: number;
  /** The service or deployment the units belong to (for anti-affinity). */
  group: string;
  /** Nodes that must not be chosen (e.g. they already hold the chunk). */
  avoid?: ReadonlySet<string>;
}

/** The scheduler's verdict on one node. */
export interface NodeVerdict {
  nodeId: string;
  nodeName: string;
  feasible: boolean;
  rejectedBy: string;
  reason: string;
  score: number;
  scoreTerms: Record<string, number>;
  placed: number;
}

/** Where the units go, and why the rest could not be placed. */
export interface PlacementResult {
  /** One node id per placed unit, in order. */
  placements: string[];
  unplaced: number;
  /** Filter name → how many nodes it rejected, at the first unit that could not be placed. */
  rejections: Record<string, number>;
  summary: string;
}

/** Placer settings. */
export interface PlacerOptions {
  /**
   * How many feasible nodes to score per unit before choosing (Nomad's limit
   * iterator): large clusters are not scanned in full for every unit.
   */
  candidateLimit?: number;
}

/**
 * The placement engine: pure over a snapshot. It keeps its own working copy of
 * what it has placed so far (so successive units see the resources earlier
 * ones took), and a round-robin cursor, and never touches the world.
 */
export class Placer {
  private readonly used = new Map<string, ResourceAmounts>();
  private readonly groups = new Map<string, Map<string, number>>();
  private readonly domains = new Map<string, Map<string, number>>();
  private cursor = 0;
  private readonly limit: number;

  private readonly byId = new Map<string, NodeSnapshot>();

  constructor(
    private readonly snapshot: ClusterSnapshot,
    options: PlacerOptions = {},
  ) {
    this.limit = options.candidateLimit ?? 8;
    // Index existing units by group once, so per-decision work never scans every node.
    for (const node of snapshot.nodes) {
      this.byId.set(node.id, node);
      for (const group in node.groups) {
        let g = this.groups.get(group);
        if (!g) this.groups.set(group, (g = new Map()));
        g.set(node.id, node.groups[group]);
      }
    }
  }

  /** Places the request's units one by one. */
  place(req: PlacementRequest): PlacementResult {
    const placements: string[] = [];
    const nodes = this.snapshot.nodes;
    for (let unit = 0; unit < req.count; unit++) {
      const chosen = this.pickOne(req);
      if (!chosen) {
        const rejections = this.rejectionCounts(req);
        return { placements, unplaced: req.count - unit, rejections, summary: summarise(req.count, placements.length, nodes.length, rejections) };
      }
      this.commit(chosen, req);
      placements.push(chosen.id);
    }
    return { placements, unplaced: 0, rejections: {}, summary: summarise(req.count, placements.length, nodes.length, {}) };
  }

  /** A dry run over every node: which filter rejected it, or its score, and how many units it would get. */
  explain(req: PlacementRequest): { verdicts: NodeVerdict[]; result: PlacementResult } {
    const before = this.fork();
    const verdicts = this.snapshot.nodes.map((n) => this.verdict(n, req));
    const result = before.place(req);
    const placedOn = new Map<string, number>();
    for (const id of result.placements) placedOn.set(id, (placedOn.get(id) ?? 0) + 1);
    for (const v of verdicts) v.placed = placedOn.get(v.nodeId) ?? 0;
    return { verdicts, result };
  }

  private fork(): Placer {
    const copy = new Placer(this.snapshot, { candidateLimit: this.limit });
    copy.groups.clear();
    for (const [k, v] of this.used) copy.used.set(k, { ...v });
    for (const [k, v] of this.groups) copy.groups.set(k, new Map(v));
    for (const [k, v] of this.domains) copy.domains.set(k, new Map(v));
    copy.cursor = this.cursor;
    return copy;
  }

  private verdict(node: NodeSnapshot, req: PlacementRequest): NodeVerdict {
    const base = { nodeId: node.id, nodeName: node.name, score: 0, scoreTerms: {}, placed: 0 };
    const rejected = this.reject(node, req);
    if (rejected) return { ...base, feasible: false, rejectedBy: rejected[0], reason: rejected[1] };
    const terms: Record<string, number> = {};
    const total = this.scoreOf(node, req, terms);
    return { ...base, feasible: true, rejectedBy: "", reason: "", score: round(total), scoreTerms: terms };
  }

  private reject(node: NodeSnapshot, req: PlacementRequest): [string, string] | undefined {
    if (req.avoid?.has(node.id)) return ["avoid", "excluded by the request (e.g. already holds it)"];
    const used = this.usedOf(node);
    for (const f of FILTERS) {
      const reason = f.check(node, req.requirements, used);
      if (reason !== undefined) return [f.name, reason];
    }
    return undefined;
  }

  private pickOne(req: PlacementRequest): NodeSnapshot | undefined {
    const nodes = this.snapshot.nodes;
    const n = nodes.length;
    const roundRobin = (req.requirements.strategy ?? DEFAULT_STRATEGY) === "round_robin";
    let best: NodeSnapshot | undefined;
    let bestScore = -Infinity;
    let bestIndex = 0;
    let seen = 0;
    const ctx = this.domainContext(req);
    for (let i = 0; i < n && seen < this.limit; i++) {
      const index = (this.cursor + i) % n;
      const node = nodes[index];
      if (this.reject(node, req)) continue;
      seen++;
      const s = this.scoreOf(node, req, undefined, ctx);
      if (s > bestScore) {
        best = node;
        bestScore = s;
        bestIndex = index;
      }
      // Round robin takes the next feasible node unless anti-affinity says it already runs the group.
      if (roundRobin && s >= 0) break;
    }
    if (best) this.cursor = (bestIndex + 1) % Math.max(1, n);
    return best;
  }

  private scoreOf(node: NodeSnapshot, req: PlacementRequest, terms?: Record<string, number>, ctx = this.domainContext(req)): number {
    const here = this.groupCount(node, req.group);
    const inDomain = ctx.counts ? (ctx.counts.get(node.labels[req.requirements.spreadLabel] ?? "") ?? 0) : 0;
    return score(node, req.requirements, this.usedOf(node), here, inDomain, ctx.max, terms);
  }

  /** The group's units per failure domain and the largest count, once per decision. */
  private domainContext(req: PlacementRequest): { counts: Map<string, number> | undefined; max: number } {
    const label = req.requirements.spreadLabel;
    if (label === "") return { counts: undefined, max: 0 };
    const counts = this.domainCounts(req.group, label);
    let max = 0;
    for (const v of counts.values()) if (v > max) max = v;
    return { counts, max };
  }

  /** Units of a group per failure domain; computed once per group and label, then kept current by commit(). */
  private domainCounts(group: string, label: string): Map<string, number> {
    const key = `${group}\u0000${label}`;
    let counts = this.domains.get(key);
    if (!counts) {
      counts = new Map();
      for (const [nodeId, c] of this.groups.get(group) ?? []) {
        const d = this.byId.get(nodeId)?.labels[label] ?? "";
        if (c > 0) counts.set(d, (counts.get(d) ?? 0) + c);
      }
      this.domains.set(key, counts);
    }
    return counts;
  }

  private groupCount(node: NodeSnapshot, group: string): number {
    return this.groups.get(group)?.get(node.id) ?? 0;
  }

  private usedOf(node: NodeSnapshot): ResourceAmounts {
    return this.used.get(node.id) ?? node.used;
  }

  private commit(node: NodeSnapshot, req: PlacementRequest): void {
    const u = this.usedOf(node);
    const r = req.requirements.resources;
    this.used.set(node.id, { cpu: u.cpu + r.cpu, memoryMb: u.memoryMb + r.memoryMb, diskMb: u.diskMb + r.diskMb, gpus: u.gpus + r.gpus });
    let g = this.groups.get(req.group);
    if (!g) this.groups.set(req.group, (g = new Map()));
    g.set(node.id, (g.get(node.id) ?? 0) + 1);
    const label = req.requirements.spreadLabel;
    const counts = label === "" ? undefined : this.domains.get(`${req.group}\u0000${label}`);
    if (counts) {
      const d = node.labels[label] ?? "";
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
  }

  private rejectionCounts(req: PlacementRequest): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const node of this.snapshot.nodes) {
      const r = this.reject(node, req);
      if (r) counts[r[0]] = (counts[r[0]] ?? 0) + 1;
    }
    return counts;
  }
}

/** "placed 2 of 3: 4 nodes offline, 1 lacks resources". */
export function summarise(wanted: number, placed: number, nodeCount: number, rejections: Record<string, number>): string {
  const head = `placed ${placed} of ${wanted} on ${nodeCount} node${nodeCount === 1 ? "" : "s"}`;
  const parts = Object.entries(rejections).map(([filter, count]) => `${count} rejected by ${filter}`);
  if (placed === wanted) return head;
  return parts.length ? `${head}: ${parts.join(", ")}` : `${head}: no nodes`;
}
