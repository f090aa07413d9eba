import { Code, ConnectError } from "@connectrpc/connect";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";

/**
 * Calls per second per client, with rate-limiter-flexible's in-memory
 * limiter. Over the limit: ResourceExhausted with a `retry-after` (seconds)
 * in the error's metadata, which the REST gateway turns into 429 and a
 * Retry-After header.
 */
export class CallRateLimiter {
  private readonly limiter: RateLimiterMemory | undefined;

  /** @param perSecond calls per second per key; 0 turns limiting off */
  constructor(private readonly perSecond: number) {
    this.limiter = perSecond > 0 ? new RateLimiterMemory({ points: perSecond, duration: 1 }) : undefined;
  }

  /** Whether calls are limited at all (RATE_LIMIT above 0): when not, there is nothing to await. */
  get enabled(): boolean {
    return this.limiter !== undefined;
  }

  /** Counts one call for `key`; throws ResourceExhausted when over the limit. */
  async consume(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      throw new ConnectError(`rate limit of ${this.perSecond} calls per second exceeded; retry in ${res.msBeforeNext} ms`, Code.ResourceExhausted, {
        "retry-after": String(seconds),
      });
    }
  }
}

/** Bounds open streaming calls, in total and per client. */
export class StreamCounter {
  private total = 0;
  private readonly perKey = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerKey: number,
  ) {}

  /** Open streams now. */
  get open(): number {
    return this.total;
  }

  /**
   * Takes a slot for a new stream (per-client too when `key` is given);
   * throws ResourceExhausted when none is free. Returns the release function,
   * which is safe to call more than once.
   */
  acquire(key: string | undefined): () => void {
    if (this.total >= this.maxTotal) throw new ConnectError(`the server holds its maximum of ${this.maxTotal} streams`, Code.ResourceExhausted);
    const mine = key === undefined ? 0 : (this.perKey.get(key) ?? 0);
    if (key !== undefined && mine >= this.maxPerKey) {
      throw new ConnectError(`this client holds its maximum of ${this.maxPerKey} open streams`, Code.ResourceExhausted);
    }
    this.total++;
    if (key !== undefined) this.perKey.set(key, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      if (key === undefined) return;
      const left = (this.perKey.get(key) ?? 1) - 1;
      if (left === 0) this.perKey.delete(key);
      else this.perKey.set(key, left);
    };
  }
}
