import { Code, ConnectError } from "@connectrpc/connect";

/** A unary call still running, in the queue of calls by deadline. */
interface Pending {
  readonly deadline: number;
  readonly reject: (err: unknown) => void;
  prev: Pending | undefined;
  next: Pending | undefined;
  settled: boolean;
}

/**
 * RPC_TIMEOUT for unary calls, with one timer for all of them. Every unary
 * call gets the same bound, so calls expire in the order they started: the
 * running ones form a queue (a linked list, each call unlinked when it
 * settles), and one timer is armed for the oldest. A call costs one small
 * object and one promise, where a setTimeout and a Promise.race per call
 * cost a Timeout, a timer-list insertion and three promises: on the hottest
 * calls that was a measurable share of the pipeline (docs/benchmarks.md).
 * The timer is cleared whenever no call is running, so, as with a timer per
 * call, it keeps the process alive only while a call is.
 */
export class UnaryDeadlines {
  private head: Pending | undefined;
  private tail: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** @param ms the longest a unary handler may run */
  constructor(readonly ms: number) {}

  /**
   * Runs `run` (a unary handler) and settles like it, or fails with
   * DeadlineExceeded once `ms` have passed. A handler that computes
   * synchronously for longer than `ms` holds the timer back; its answer is
   * just as late, so it fails the same way.
   */
  run<T>(run: () => T | Promise<T>): Promise<T> {
    const started = performance.now();
    let out: T | Promise<T>;
    try {
      out = run();
    } catch (err) {
      return Promise.reject(err);
    }
    if (!isThenable(out)) return this.late(started) ? Promise.reject(deadlineExceeded(this.ms)) : Promise.resolve(out);
    const running = out;
    return new Promise<T>((resolve, reject) => {
      const call = this.enqueue(started + this.ms, reject);
      running.then(
        (value) => {
          if (!this.settle(call)) return;
          if (this.late(started)) reject(deadlineExceeded(this.ms));
          else resolve(value);
        },
        (err: unknown) => {
          if (this.settle(call)) reject(err);
        },
      );
    });
  }

  private late(started: number): boolean {
    return performance.now() - started > this.ms;
  }

  private enqueue(deadline: number, reject: (err: unknown) => void): Pending {
    const call: Pending = { deadline, reject, prev: this.tail, next: undefined, settled: false };
    if (this.tail) this.tail.next = call;
    else this.head = call;
    this.tail = call;
    if (this.timer === undefined) this.arm(deadline - performance.now());
    return call;
  }

  /** Takes a call out of the queue; false when it was settled already (by its deadline). */
  private settle(call: Pending): boolean {
    if (call.settled) return false;
    call.settled = true;
    if (call.prev) call.prev.next = call.next;
    else this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    else this.tail = call.prev;
    call.prev = call.next = undefined;
    if (this.head === undefined && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return true;
  }

  private arm(inMs: number): void {
    // Timers may fire up to a millisecond early against performance.now(): expire() re-arms then.
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(inMs)));
  }

  /** Fails every call past its deadline (the oldest first), then waits for the next one's. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head !== undefined && this.head.deadline <= now) {
      const call = this.head;
      this.settle(call);
      call.reject(deadlineExceeded(this.ms));
    }
    if (this.head !== undefined) this.arm(this.head.deadline - now);
  }
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function deadlineExceeded(ms: number): ConnectError {
  return new ConnectError(`the call did not finish within ${ms} ms`, Code.DeadlineExceeded);
}
