import type { PlacementRequirements } from "../model/placement.js";
import { CandidateTree, notFound } from "./candidate-tree.js";
import { explainNodes, rejectionCounts, termsOf, type NodeVerdict } from "./explain.js";
import { STATIC_FILTERS } from "./filters.js";
import { localityOf, localityScore, type Locality } from "./locality.js";
import { PlacementState } from "./placement-state.js";
import { DEFAULT_STRATEGY, groupFirst, weightsOf } from "./strategy.js";
import type { PlacementRequest, PlacementResult } from "./request.js";
import type { ClusterSnapshot } from "./snapshot.js";

export type { NodeVerdict } from "./explain.js";
export type { PlacementRequest, PlacementResult } from "./request.js";

/** A request's usable chunk holders (node indexes) and their locality scores. */
interface Holders {
  nodes: number[];
  scores: number[];
  scoreOf: (node: number) => number;
}

/** Placer settings. */
export interface PlacerOptions {
  /** round_robin's position: the id of the last node it chose (state kept by the caller between passes). */
  cursor?: string;
}

/**
 * The placement engine: pure over a snapshot. It keeps its own working copy of
 * what it has placed so far (so successive units, and later requests, see the
 * resources and spread earlier ones took) and round_robin's cursor, and never
 * touches the world. Each decision names exactly the node the strategy's
 * definition (strategy.ts) names; a candidate tree per kind of request keeps
 * that to about log(n) work per decision.
 */
export class Placer {
  private readonly state: PlacementState;
  private readonly trees = new Map<string, CandidateTree>();
  private position: string;

  constructor(
    private readonly snapshot: ClusterSnapshot,
    options: PlacerOptions = {},
    state?: PlacementState,
  ) {
    this.state = state ?? new PlacementState(snapshot.nodes);
    this.position = options.cursor ?? "";
  }

  /** round_robin's position after the decisions so far: hand it to the next pass. */
  get cursor(): string {
    return this.position;
  }

  /** The group's units on a node stop counting toward its spread (the replica is being replaced). */
  discount(group: string, nodeId: string): void {
    this.state.discount(group, nodeId);
  }

  /** Places the request's units one by one. */
  place(req: PlacementRequest): PlacementResult {
    const placements: string[] = [];
    const nodes = this.snapshot.nodes;
    const r = req.requirements;
    const strategy = r.strategy ?? DEFAULT_STRATEGY;
    const tree = this.tree(r);
    const want = [r.resources.cpu, r.resources.memoryMb, r.resources.diskMb, r.resources.gpus];
    const masked: number[] = [];
    const hide = (i: number) => {
      tree.mask(i, true);
      masked.push(i);
    };
    for (const id of req.avoid ?? []) {
      const i = this.state.indexOf(id);
      if (i !== undefined) hide(i);
    }
    const byGroup = groupFirst(r);
    if (byGroup) for (const i of this.state.nodesOf(req.group)) hide(i);
    // Chunk locality: looked up once per request; only the few holders can beat the tree's choice.
    const locality = localityOf(r, this.snapshot.chunks, (id) => this.state.indexOf(id));
    const holders = locality && locality.held.size > 0 ? this.holdersOf(locality, tree, req) : undefined;
    const terms = req.withTerms ? ([] as Array<Record<string, number>>) : undefined;
    try {
      for (let unit = 0; unit < req.count; unit++) {
        let chosen = strategy === "round_robin" ? this.nextInTurn(tree, req, want) : this.bestNode(tree, req, want, strategy === "binpack" ? -1 : 1, byGroup);
        if (chosen !== undefined && holders && holders.nodes.length > 0) chosen = this.preferHolder(chosen, holders, tree, req, want);
        if (chosen === undefined) {
          const rejections = rejectionCounts(this.state, nodes, req);
          return { placements, unplaced: req.count - unit, rejections, summary: summarise(req.count, placements.length, nodes.length, rejections), terms };
        }
        if (terms) terms.push(termsOf(this.state, chosen, req));
        this.commit(chosen, req);
        if (byGroup) hide(chosen);
        placements.push(nodes[chosen].id);
      }
    } finally {
      for (const i of masked) tree.mask(i, false);
    }
    return { placements, unplaced: 0, rejections: {}, summary: summarise(req.count, placements.length, nodes.length, {}), terms };
  }

  /** A dry run over every node: which filter rejected it, or its rank and terms, and how many units it would get. */
  explain(req: PlacementRequest): { verdicts: NodeVerdict[]; result: PlacementResult } {
    const verdicts = explainNodes(this.state, this.snapshot.nodes, req, this.position, this.snapshot.chunks);
    const result = this.fork().place(req);
    const placedOn = new Map<string, number>();
    for (const id of result.placements) placedOn.set(id, (placedOn.get(id) ?? 0) + 1);
    for (const v of verdicts) v.placed = placedOn.get(v.nodeId) ?? 0;
    return { verdicts, result };
  }

  /** A copy that can place without changing this one. */
  fork(): Placer {
    return new Placer(this.snapshot, { cursor: this.position }, this.state.clone());
  }

  /**
   * round_robin: among the fitting nodes with the fewest of the group's units
   * (the others are masked), the first after the cursor in node id order.
   */
  private nextInTurn(tree: CandidateTree, req: PlacementRequest, want: number[]): number | undefined {
    const ids = this.state.ids;
    let lo = 0;
    let hi = tree.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[tree.nodeAt[mid]] <= this.position) lo = mid + 1;
      else hi = mid;
    }
    let pos = tree.firstFit(lo, tree.length, want);
    if (pos < 0) pos = tree.firstFit(0, lo, want);
    if (pos >= 0) return tree.nodeAt[pos];
    // Every fitting node runs the group already: fewest units first, then in turn.
    let pick: { node: number; n: number; after: boolean } | undefined;
    for (const [node, n] of this.state.unitsOf(req.group)) {
      if (tree.posOf[node] < 0 || !tree.fits(node, want) || req.avoid?.has(ids[node])) continue;
      const after = ids[node] > this.position;
      const better = !pick || n < pick.n || (n === pick.n && (after !== pick.after ? after : ids[node] < ids[pick.node]));
      if (better) pick = { node, n, after };
    }
    return pick?.node;
  }

  /** spread and binpack: the first node under the definition (strategy.ts), domain tiers first. */
  private bestNode(tree: CandidateTree, req: PlacementRequest, want: number[], dir: 1 | -1, byGroup: boolean): number | undefined {
    const label = req.requirements.spreadLabel;
    const counts = label === "" ? undefined : this.state.domainCounts(req.group, label);
    const all = tree.ranges;
    // Each range's count of the group's units in its domain; domains are few (zones), so tiers are found by scanning.
    const domainUnits = counts ? all.map((range) => counts.get(range.value) ?? 0) : undefined;
    const ids = this.state.ids;
    for (let floor = -1; ; ) {
      let c = Infinity;
      if (!domainUnits) c = floor < 0 ? 0 : Infinity;
      else for (const x of domainUnits) if (x > floor && x < c) c = x;
      if (c === Infinity) return undefined;
      floor = c;
      const ranges = domainUnits ? all.filter((_, i) => domainUnits[i] === c) : all;
      // Nodes without the group's units (all nodes, unless byGroup masked the others).
      const found = notFound(dir);
      for (const range of ranges) tree.best(range.lo, range.hi, want, dir, found);
      if (found.node >= 0) return found.node;
      if (!byGroup) continue;
      // Every fitting node here runs the group already: fewest of them first, then fullness.
      const domains = new Set(ranges.map((x) => x.value));
      let pick: { node: number; n: number; full: number } | undefined;
      for (const [node, n] of this.state.unitsOf(req.group)) {
        if (tree.posOf[node] < 0 || !tree.fits(node, want) || req.avoid?.has(ids[node])) continue;
        if (counts && !domains.has(this.state.labelOf(node, label))) continue;
        const full = tree.fullnessOf(node);
        const better =
          !pick || n < pick.n || (n === pick.n && (dir === 1 ? full < pick.full : full > pick.full)) || (n === pick.n && full === pick.full && ids[node] < ids[pick.node]);
        if (better) pick = { node, n, full };
      }
      if (pick) return pick.node;
    }
  }

  /**
   * The tree's choice, or a node holding wanted chunks that beats it once
   * locality counts: spread and binpack compare fullness moved by the
   * locality score (toward "emptier" for spread, "fuller" for binpack) after
   * the group's domain and node counts; round_robin takes, among the nodes
   * with the fewest of the group's units, the one holding the most bytes.
   * Exact: for a node holding nothing the key is unchanged, so the tree's
   * choice is the best of those, and every holder is compared here. Scalars
   * only: this runs for every unit of a request that lists chunks.
   */
  private preferHolder(chosen: number, holders: Holders, tree: CandidateTree, req: PlacementRequest, want: number[]): number {
    const r = req.requirements;
    const state = this.state;
    const ids = state.ids;
    const roundRobin = (r.strategy ?? DEFAULT_STRATEGY) === "round_robin";
    const binpack = r.strategy === "binpack";
    const byGroup = groupFirst(r);
    const counts = roundRobin || r.spreadLabel === "" ? undefined : state.domainCounts(req.group, r.spreadLabel);
    const sign = binpack ? 1 : -1;
    let node = chosen;
    let score = holders.scoreOf(chosen);
    let domain = counts?.get(state.labelOf(chosen, r.spreadLabel)) ?? 0;
    let units = state.unitsOn(req.group, chosen);
    let full = tree.fullnessOf(chosen) + sign * score;
    for (let h = 0; h < holders.nodes.length; h++) {
      const i = holders.nodes[h];
      if (i === node || !tree.fits(i, want)) continue;
      const s = holders.scores[h];
      const n = state.unitsOn(req.group, i);
      let better: boolean;
      if (roundRobin) {
        better = n < units || (n === units && (s > score || (s === score && inTurnBefore(ids[i], ids[node], this.position))));
      } else {
        const d = counts ? (counts.get(state.labelOf(i, r.spreadLabel)) ?? 0) : 0;
        if (d !== domain) better = d < domain;
        else if (byGroup && n !== units) better = n < units;
        else {
          const f = tree.fullnessOf(i) + sign * s;
          better = f !== full ? (binpack ? f > full : f < full) : ids[i] < ids[node];
        }
      }
      if (better) {
        node = i;
        score = s;
        units = n;
        domain = counts ? (counts.get(state.labelOf(i, r.spreadLabel)) ?? 0) : 0;
        full = tree.fullnessOf(i) + sign * s;
      }
    }
    return node;
  }

  /** The holders a request may use (in the tree, not avoided) with their locality scores: once per request. */
  private holdersOf(locality: Locality, tree: CandidateTree, req: PlacementRequest): Holders {
    const nodes: number[] = [];
    const scores: number[] = [];
    for (const i of locality.held.keys()) {
      if (tree.posOf[i] < 0 || req.avoid?.has(this.state.ids[i])) continue;
      nodes.push(i);
      scores.push(localityScore(locality, i));
    }
    return { nodes, scores, scoreOf: (i) => localityScore(locality, i) };
  }

  /** The tree for this kind of request: built once per placer from the static filters. */
  private tree(r: PlacementRequirements): CandidateTree {
    const roundRobin = (r.strategy ?? DEFAULT_STRATEGY) === "round_robin";
    const label = roundRobin ? "" : r.spreadLabel;
    const weights = weightsOf(r);
    const key = JSON.stringify([r.requireDocker, r.minDockerVersion, r.requiredTags, r.labels, r.constraints, label, weights]);
    let tree = this.trees.get(key);
    if (!tree) {
      const members: number[] = [];
      const none = { cpu: 0, memoryMb: 0, diskMb: 0, gpus: 0 };
      this.snapshot.nodes.forEach((n, i) => {
        if (STATIC_FILTERS.every((f) => f.check(n, r, none) === undefined)) members.push(i);
      });
      tree = new CandidateTree(this.state, members, (i) => (label === "" ? "" : this.state.labelOf(i, label)), weights);
      this.trees.set(key, tree);
    }
    return tree;
  }

  private commit(node: number, req: PlacementRequest): void {
    this.state.commit(node, req.group, req.requirements.resources);
    for (const tree of this.trees.values()) tree.update(node);
    if ((req.requirements.strategy ?? DEFAULT_STRATEGY) === "round_robin") this.position = this.state.ids[node];
  }
}

/** round_robin's turn order: nodes after the cursor (in id order) before those at or before it. */
export function inTurnBefore(a: string, b: string, cursor: string): boolean {
  return (a > cursor) !== (b > cursor) ? a > cursor : a < b;
}

/** "placed 2 of 3: 4 nodes offline, 1 lacks resources". */
export function summarise(wanted: number, placed: number, nodeCount: number, rejections: Record<string, number>): string {
  const head = `placed ${placed} of ${wanted} on ${nodeCount} node${nodeCount === 1 ? "" : "s"}`;
  const parts = Object.entries(rejections).map(([filter, count]) => `${count} rejected by ${filter}`);
  if (placed === wanted) return head;
  return parts.length ? `${head}: ${parts.join(", ")}` : `${head}: no nodes`;
}
