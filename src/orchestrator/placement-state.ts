import type { NodeTable } from "./candidate-tree.js";
import { capacityKnown } from "./filters.js";
import type { NodeSnapshot, ResourceAmounts } from "./snapshot.js";

const KEYS = ["cpu", "memoryMb", "diskMb", "gpus"] as const;

/**
 * The placer's working copy of a snapshot: resources used (with what this
 * plan placed), each group's units per node and per failure domain. Plain
 * typed arrays, so decisions and the candidate trees read numbers, not objects.
 */
export class PlacementState implements NodeTable {
  readonly ids: string[];
  readonly capacity: Float64Array[];
  readonly used: Float64Array[];
  readonly free: Float64Array[];
  private readonly index = new Map<string, number>();
  /** group → node index → units. */
  private readonly groups = new Map<string, Map<number, number>>();
  /** group → label → domain value → units; kept current by commit() and discount(). */
  private readonly domains = new Map<string, Map<string, Map<string, number>>>();

  constructor(
    private readonly nodes: readonly NodeSnapshot[],
    copy?: PlacementState,
  ) {
    this.ids = copy ? copy.ids : nodes.map((n) => n.id);
    const n = nodes.length;
    if (copy) {
      this.index = copy.index;
      this.capacity = copy.capacity;
      this.used = copy.used.map((a) => a.slice());
      this.free = copy.free.map((a) => a.slice());
      for (const [g, m] of copy.groups) this.groups.set(g, new Map(m));
      for (const [g, byLabel] of copy.domains) this.domains.set(g, new Map([...byLabel].map(([l, m]) => [l, new Map(m)])));
      return;
    }
    this.capacity = KEYS.map(() => new Float64Array(n));
    this.used = KEYS.map(() => new Float64Array(n));
    this.free = KEYS.map(() => new Float64Array(n));
    nodes.forEach((node, i) => {
      this.index.set(node.id, i);
      const known = capacityKnown(node);
      KEYS.forEach((k, r) => {
        this.capacity[r][i] = node.capacity[k];
        this.used[r][i] = node.used[k];
        this.free[r][i] = known ? node.capacity[k] - node.used[k] : Infinity;
      });
      for (const group in node.groups) {
        const units = node.groups[group];
        if (units <= 0) continue;
        let g = this.groups.get(group);
        if (!g) this.groups.set(group, (g = new Map()));
        g.set(i, units);
      }
    });
  }

  /** An independent copy (explain's dry runs). */
  clone(): PlacementState {
    return new PlacementState(this.nodes, this);
  }

  /** A node's position in the snapshot. */
  indexOf(id: string): number | undefined {
    return this.index.get(id);
  }

  /** A node's value of a label ("" when unset). */
  labelOf(node: number, label: string): string {
    return this.nodes[node].labels[label] ?? "";
  }

  /** Node indexes that run the group. */
  nodesOf(group: string): Iterable<number> {
    return this.groups.get(group)?.keys() ?? [];
  }

  /** (node index, units) of the group. */
  unitsOf(group: string): Iterable<[number, number]> {
    return this.groups.get(group) ?? [];
  }

  /** Units of the group on a node. */
  unitsOn(group: string, node: number): number {
    return this.groups.get(group)?.get(node) ?? 0;
  }

  /** What a node has used, as the filters read it. */
  usedOf(node: number): ResourceAmounts {
    return { cpu: this.used[0][node], memoryMb: this.used[1][node], diskMb: this.used[2][node], gpus: this.used[3][node] };
  }

  /** Units of a group per failure domain (value of `label`). */
  domainCounts(group: string, label: string): Map<string, number> {
    let byLabel = this.domains.get(group);
    if (!byLabel) this.domains.set(group, (byLabel = new Map()));
    let counts = byLabel.get(label);
    if (!counts) {
      counts = new Map();
      for (const [node, units] of this.unitsOf(group)) {
        const d = this.labelOf(node, label);
        counts.set(d, (counts.get(d) ?? 0) + units);
      }
      byLabel.set(label, counts);
    }
    return counts;
  }

  /** One more unit of the group on the node, taking its resources. */
  commit(node: number, group: string, res: ResourceAmounts): void {
    const amounts = [res.cpu, res.memoryMb, res.diskMb, res.gpus];
    for (let r = 0; r < 4; r++) {
      this.used[r][node] += amounts[r];
      this.free[r][node] -= amounts[r];
    }
    this.addUnits(group, node, 1);
  }

  /** One unit of the group on the node stops counting for spread (its resources stay taken). */
  discount(group: string, id: string): void {
    const node = this.index.get(id);
    if (node !== undefined && this.unitsOn(group, node) > 0) this.addUnits(group, node, -1);
  }

  private addUnits(group: string, node: number, delta: number): void {
    let g = this.groups.get(group);
    if (!g) this.groups.set(group, (g = new Map()));
    const units = (g.get(node) ?? 0) + delta;
    if (units > 0) g.set(node, units);
    else g.delete(node);
    for (const [label, counts] of this.domains.get(group) ?? []) {
      const d = this.labelOf(node, label);
      counts.set(d, (counts.get(d) ?? 0) + delta);
    }
  }
}
