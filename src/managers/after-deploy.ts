import type { Logger } from "pino";
import type { ServiceState } from "../state/service-state.js";
import type { TaskManager } from "./task-manager.js";

/**
 * Runs each service's hooks.afterDeploy once per apply (once per spec hash:
 * re-applying the same spec, or only scaling, does not run it again), on one
 * node that runs a replica, once every replica of that spec runs. Its outcome
 * is the service's after-deploy task. One per cluster, like the schedules.
 */
export class AfterDeployRunner {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly loaded = new Set<string>();

  constructor(
    private readonly state: ServiceState,
    private readonly tasks: TaskManager,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Starts the ticks. */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the ticks; resolves once a tick under way is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One look at every service with the hook (ticks never overlap). Exposed for tests. */
  tick(): Promise<void> {
    this.ticking ??= this.runDue()
      .catch((err: unknown) => this.logger.error({ err }, "after-deploy tick failed"))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async runDue(): Promise<void> {
    for (const s of this.state.listServices()) {
      const spec = s.spec;
      if (!spec.hooks.afterDeploy || spec.schedule) continue;
      if (!this.loaded.has(spec.name)) {
        await this.tasks.loadRecent(spec.name, "after_deploy");
        this.loaded.add(spec.name);
      }
      if (this.tasks.recent(spec.name, "after_deploy").some((t) => t.specHash === s.specHash)) continue;
      const running = this.state.replicasOf(spec.name).filter((r) => r.specHash === s.specHash && r.status === "running");
      if (running.length < spec.replicas) continue;
      const task = await this.tasks.run({
        spec: { ...spec, command: spec.hooks.afterDeploy },
        kind: "after_deploy",
        specHash: s.specHash,
        only: new Set(running.map((r) => r.nodeId)),
      });
      this.logger.info({ service: spec.name, taskId: task.id, status: task.status }, "after-deploy hook started");
    }
  }
}
