import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { AuditRecorder } from "../model/audit.js";

/** One failed authentication: a bad or missing credential where one was needed. */
export interface AuthFailure {
  /** The caller's address ("" when unknown). */
  address: string;
  /** The RPC, or "/ws (ws-orion)" for a WebSocket join. */
  rpc: string;
  /** What the caller was told. */
  message: string;
  /** The call's target, when it named one. */
  target?: string;
}

/** How failed authentication is limited and recorded. */
export interface AuthFailureOptions {
  /** Failed authentications per address per window before the address gets 429; 0 turns limiting off. */
  perWindow: number;
  /** The window, in ms (60 s in production). */
  windowMs: number;
  /** Addresses recorded one by one per window; failures from more addresses are summed in one event. */
  maxAddresses?: number;
}

const DEFAULT_MAX_ADDRESSES = 1000;
// Blocked addresses are checked on every call without awaiting: a plain map, pruned as it grows.
const PRUNE_AT = 10_000;

/**
 * Failed authentication: limited per address before the caller is resolved
 * (an address over AUTH_FAILURE_LIMIT in a window gets ResourceExhausted /
 * 429 with Retry-After, whatever it sends, until the window ends), and
 * recorded in a bounded way. Within each window the first failure from an
 * address is logged and audited with what it tried; the rest are counted and
 * summed in one event per address when the window ends, and addresses beyond
 * `maxAddresses` in one event for all of them. So outsiders grow the audit
 * trail by at most about 2 × maxAddresses + 1 events per window, whatever
 * their rate. The gRPC, Connect, REST and /ws paths all report here.
 */
export class AuthFailures {
  private readonly limiter: RateLimiterMemory | undefined;
  private readonly blockedUntil = new Map<string, number>();
  private counts = new Map<string, number>();
  private others = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxAddresses: number;

  constructor(
    private readonly options: AuthFailureOptions,
    private readonly audit: AuditRecorder,
    private readonly logger: Logger,
  ) {
    this.maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
    this.limiter = options.perWindow > 0 ? new RateLimiterMemory({ points: options.perWindow, duration: Math.max(1, Math.ceil(options.windowMs / 1000)) }) : undefined;
  }

  /** Seconds until an address that failed too often may try again; undefined when it may now. */
  retryAfterSeconds(address: string): number | undefined {
    if (this.blockedUntil.size === 0) return undefined;
    const until = this.blockedUntil.get(address);
    if (until === undefined) return undefined;
    const ms = until - Date.now();
    if (ms <= 0) {
      this.blockedUntil.delete(address);
      return undefined;
    }
    return Math.max(1, Math.ceil(ms / 1000));
  }

  /** Throws ResourceExhausted (with retry-after) when the address failed too often. Call before resolving the caller. */
  check(address: string): void {
    const seconds = this.retryAfterSeconds(address);
    if (seconds !== undefined) {
      throw new ConnectError(`too many failed authentications from this address; retry in ${seconds} s`, Code.ResourceExhausted, { "retry-after": String(seconds) });
    }
  }

  /** Counts and records one failure. */
  record(failure: AuthFailure): void {
    this.count(failure);
    if (!this.limiter) return;
    this.limiter.consume(`a:${failure.address}`).catch((res: unknown) => {
      if (!(res instanceof RateLimiterRes)) return;
      if (this.blockedUntil.size >= PRUNE_AT) this.prune();
      this.blockedUntil.set(failure.address, Date.now() + res.msBeforeNext);
    });
  }

  /** Writes the window's sums now (at shutdown). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.summarise();
  }

  private count(f: AuthFailure): void {
    const seen = this.counts.get(f.address);
    if (seen !== undefined) {
      this.counts.set(f.address, seen + 1);
    } else if (this.counts.size < this.maxAddresses) {
      this.counts.set(f.address, 0);
      // The first failure from an address in a window: in full, once.
      this.logger.warn({ peer: f.address, rpc: f.rpc, reason: f.message }, "authentication failed");
      this.audit.record({ actor: "none", actorKind: "none", rpc: f.rpc, target: f.target ?? "", outcome: "unauthenticated", message: f.message, peer: f.address });
    } else {
      this.others++;
    }
    this.timer ??= setTimeout(() => this.flush(), this.options.windowMs).unref();
  }

  private summarise(): void {
    const counts = this.counts;
    const others = this.others;
    this.counts = new Map();
    this.others = 0;
    const seconds = Math.round(this.options.windowMs / 1000);
    for (const [address, more] of counts) {
      if (more === 0) continue;
      const message = `${more} more failed authentications in ${seconds} s`;
      this.logger.warn({ peer: address, failures: more }, "authentication failed repeatedly");
      this.audit.record({ actor: "none", actorKind: "none", rpc: "(failed authentication)", target: "", outcome: "unauthenticated", message, peer: address });
    }
    if (others > 0) {
      const message = `${others} failed authentications in ${seconds} s from addresses beyond the first ${this.maxAddresses}`;
      this.logger.warn({ failures: others }, "authentication failed from many addresses");
      this.audit.record({ actor: "none", actorKind: "none", rpc: "(failed authentication)", target: "", outcome: "unauthenticated", message, peer: "" });
    }
  }

  private prune(): void {
    const now = Date.now();
    for (const [address, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(address);
  }
}
