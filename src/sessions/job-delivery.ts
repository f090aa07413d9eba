import type { Logger } from "pino";
import type { AgentSession, SessionDirectory } from "../model/agent-session.js";
import type { Job } from "../model/job.js";
import type { DeliveryTarget, DispatchLedger, JobDelivery } from "../model/job-delivery.js";
import { KeyedLock } from "../shared/keyed-lock.js";

/** Delivery settings. */
export interface JobDeliveryOptions {
  /** A dispatched job not acknowledged within this is sent again. */
  ackTimeoutMs: number;
  /** After this many deliveries without acknowledgement the job fails. */
  maxAttempts: number;
  now?: () => Date;
}

/**
 * Jobs down live agent sessions: sent in creation order per node, sent again
 * to a session that (re)attaches and when an acknowledgement does not come
 * (agents deduplicate by job id), and cancels passed on. Each delivery is
 * recorded in the job lifecycle (DispatchLedger) before it is sent.
 */
export class SessionJobDelivery implements JobDelivery {
  /** Per node: deliveries to one node go out one at a time, in order. */
  private readonly lock = new KeyedLock();
  private readonly now: () => Date;
  private ledger: DispatchLedger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly sessions: SessionDirectory,
    private readonly logger: Logger,
    private readonly options: JobDeliveryOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Starts delivering through the lifecycle's ledger: redelivering to
   * sessions as they attach, and unacknowledged jobs as they time out.
   */
  start(ledger: DispatchLedger): void {
    this.ledger = ledger;
    this.unsubscribe = this.sessions.onAttach((session) => void this.redeliver(session));
    this.timer = setInterval(() => void this.tick(), Math.min(1000, this.options.ackTimeoutMs / 2));
    this.timer.unref();
  }

  /** Stops the timer and the redelivery on attach. */
  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** Sends the job if its node has a live session; see JobDelivery.deliver. */
  async deliver(job: Job): Promise<Job | undefined> {
    const session = this.sessions.get(job.nodeId);
    if (!session) return undefined;
    return this.lock.run(job.nodeId, () => this.send(job.id, session));
  }

  /** The node's live session, if any. */
  target(nodeId: string): DeliveryTarget | undefined {
    return this.sessions.get(nodeId);
  }

  /** Sends a job whose dispatch is already recorded; see JobDelivery.sendRecorded. */
  async sendRecorded(job: Job): Promise<void> {
    await this.lock.run(job.nodeId, async () => {
      this.sessions.get(job.nodeId)?.send({ kind: "command", job });
    });
  }

  /** Tells the job's agent to stop it, if the agent is connected. */
  cancel(job: Job, reason: string): void {
    this.sessions.get(job.nodeId)?.send({ kind: "cancel", jobId: job.id, reason });
  }

  /** Whether the node's agent is connected now. */
  isConnected(nodeId: string): boolean {
    return this.sessions.isConnected(nodeId);
  }

  /** Sends again every dispatched job whose acknowledgement is overdue; fails it after the last attempt. */
  async tick(): Promise<void> {
    const ledger = this.requireLedger();
    const now = this.now().getTime();
    for (const job of ledger.pending()) {
      try {
        // Past its deadline the lifecycle times it out; it is not sent again.
        if (job.deadline && job.deadline.getTime() <= now) continue;
        const session = this.sessions.get(job.nodeId);
        const unacked = job.status === "dispatched" && now - (job.dispatchedAt?.getTime() ?? now) >= this.options.ackTimeoutMs;
        if (!session || !unacked) continue;
        if (job.attempts >= this.options.maxAttempts) await ledger.failUnacknowledged(job.id);
        else await this.lock.run(job.nodeId, () => this.send(job.id, session));
      } catch (err) {
        this.logger.error({ err, jobId: job.id }, "job redelivery failed");
      }
    }
  }

  /** Sends every unfinished job of a newly attached session's node, oldest first. */
  private async redeliver(session: AgentSession): Promise<void> {
    const ledger = this.requireLedger();
    await this.lock.run(session.nodeId, async () => {
      for (const job of ledger.forNode(session.nodeId)) {
        if (this.sessions.get(session.nodeId) !== session) return;
        await this.send(job.id, session).catch((err: unknown) =>
          this.logger.error({ err, jobId: job.id, nodeId: job.nodeId }, "redelivery failed"),
        );
      }
    });
  }

  /** Records the delivery, then sends (the caller holds the node's lock: delivery order). */
  private send(jobId: string, session: AgentSession): Promise<Job | undefined> {
    return this.requireLedger().recordDispatch(jobId, session, (job) => session.send({ kind: "command", job }));
  }

  private requireLedger(): DispatchLedger {
    if (!this.ledger) throw new Error("job delivery used before start()");
    return this.ledger;
  }
}
