import type { Deployment } from "../model/deployment.js";

/** The in-memory view of deployments that reads and placement use. */
export class DeploymentState {
  private readonly byId = new Map<string, Deployment>();
  private readonly idByProject = new Map<string, string>();

  /** Replaces the view, e.g. with what the store holds at start-up. */
  load(all: Iterable<Deployment>): void {
    this.byId.clear();
    this.idByProject.clear();
    for (const d of all) this.put(d);
  }

  get(id: string): Deployment | undefined {
    return this.byId.get(id);
  }

  /** The deployment of a compose project, if any. */
  byProject(projectName: string): Deployment | undefined {
    const id = this.idByProject.get(projectName);
    return id === undefined ? undefined : this.byId.get(id);
  }

  put(d: Deployment): void {
    this.byId.set(d.id, d);
    this.idByProject.set(d.projectName, d.id);
  }

  remove(id: string): void {
    const d = this.byId.get(id);
    if (!d) return;
    this.byId.delete(id);
    if (this.idByProject.get(d.projectName) === id) this.idByProject.delete(d.projectName);
  }

  /** Every deployment, oldest first. */
  list(): Deployment[] {
    return [...this.byId.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }
}
