import type { ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { InvalidArgumentError } from "../model/errors.js";
import type { Caller, Principal } from "../model/principal.js";
import { MIN_INDEX_HEADER, parseIndex, type WriteIndexScope } from "../shared/write-index.js";
import type { Peer } from "../shared/peer.js";
import type { Admission, CallGuard } from "./call-guard.js";
import type { CallObserver } from "./call-observer.js";
import { lazyRpcLogger, reportFailure, requestIdSource } from "./rpc-log.js";
import { UnaryDeadlines } from "./unary-deadlines.js";

/**
 * Read-your-writes across replicas: the change index this replica's views
 * have applied (ChangeFollower), a wait for a later one, and the scope the
 * database notes each call's commits in.
 */
export interface CallConsistency {
  readonly scope: WriteIndexScope;
  index(): number;
  waitFor(index: number): Promise<void>;
}

/** The principal of a public call (health, info, reflection), which is not asked for credentials. */
const PUBLIC_PRINCIPAL: Principal = { kind: "none", peer: "" };
const PUBLIC_CALLER: Caller = { principal: PUBLIC_PRINCIPAL, address: "", forwarded: false };

/**
 * The one sequence every RPC passes, whichever way it came in: the Connect
 * interceptor (gRPC, gRPC-Web, Connect, REST through the gateway) and the
 * gRPC fast paths each adapt their request to it and nothing more. It names
 * the call (request id, child logger), admits it (CallGuard: caller, rate
 * limit, access policy, stream bounds, audit), bounds unary handlers by
 * RPC_TIMEOUT, maps failures to their status and logs each once. A concern
 * added here reaches every path: the observer (Prometheus metrics) sees
 * every call end, with its code and start time.
 */
export class CallPipeline {
  private readonly requestId = requestIdSource();
  /** RPC_TIMEOUT for every unary call, on one timer. */
  readonly deadlines: UnaryDeadlines;

  constructor(
    readonly guard: CallGuard,
    readonly root: Logger,
    /** Absent: calls carry no change index (an app without a change feed). */
    readonly consistency?: CallConsistency,
    /** Told once when each call ends (Prometheus metrics); absent with METRICS=off. */
    readonly observer?: CallObserver,
  ) {
    this.deadlines = new UnaryDeadlines(guard.rpcTimeoutMs);
  }

  /** A call starts: `rpc` is "capstan.v1.NodeService/Heartbeat", `requestId` the caller's x-request-id if any. */
  begin(rpc: string, requestId: string | null | undefined): PipelineCall {
    return new PipelineCall(this, rpc, this.requestId(requestId));
  }

  /** Whether calls to `rpc` (a stream) need no admission here, so an entry path may open them synchronously. */
  opensWithoutAdmission(rpc: string): boolean {
    return this.guard.isAgentStream(rpc) || this.guard.isPublic(rpc);
  }
}

/** What a unary call brings to admission. */
export interface UnaryCall {
  header: Headers;
  /** Resolved only when the call is admitted (public calls need none). */
  peer: () => Peer;
  message: unknown;
  /** A later slice of a REST list whose first slice the rate limit counted (CallInfo.uncharged). */
  uncharged?: boolean;
}

/** One call on its way through the pipeline. */
export class PipelineCall {
  /** The call's child logger (method and request id bound), made on first use. */
  readonly logger: () => Logger;
  private readonly started = performance.now();
  /**
   * The change index the answer of an admitted unary call reflects, for its
   * entry path to send as the Capstan-Index header: the last change its own
   * writes committed, or what this replica had applied, whichever is later.
   */
  index: number | undefined;

  constructor(
    private readonly pipeline: CallPipeline,
    readonly rpc: string,
    requestId: string,
  ) {
    this.logger = lazyRpcLogger(pipeline.root, rpc, requestId);
  }

  /**
   * Runs a unary call: admitted (public calls are not), its handler bounded
   * by RPC_TIMEOUT, its outcome recorded in the audit trail; a mutating call
   * answers only once its audit event is stored. `response` picks the
   * response message out of what the handler returned (for the audit target).
   * Throws what the call failed with, unmapped: pass it to `failed`.
   */
  async unary<T>(call: UnaryCall, handler: (principal: Principal, caller: Caller) => T | Promise<T>, response: (out: T) => unknown = (out) => out): Promise<T> {
    const { guard } = this.pipeline;
    if (guard.isPublic(this.rpc)) return handler(PUBLIC_PRINCIPAL, PUBLIC_CALLER);
    const admission = await guard.admit({ rpc: this.rpc, header: call.header, peer: call.peer(), message: call.message, uncharged: call.uncharged });
    try {
      const out = await this.pipeline.deadlines.run(() => this.consistent(call.header, () => handler(admission.principal, admission.caller)));
      await admission.done(undefined, response(out));
      return out;
    } catch (err) {
      void admission.done(err);
      throw err;
    }
  }

  /**
   * Runs a handler after this replica has applied the change index the
   * caller asks for (Capstan-Min-Index; the wait is bounded by the call's
   * deadline), noting the index its answer reflects.
   */
  private async consistent<T>(header: Headers, run: () => T | Promise<T>): Promise<T> {
    const c = this.pipeline.consistency;
    if (!c) return run();
    const min = parseIndex(header.get(MIN_INDEX_HEADER));
    if (min === undefined) throw new InvalidArgumentError("Capstan-Min-Index", "must be a change index (a non-negative integer, as a Capstan-Index header carries)");
    if (min > c.index()) await c.waitFor(min);
    const { result, written } = c.scope.run(run);
    const out = await result;
    this.index = Math.max(written(), c.index());
    return out;
  }

  /**
   * The slot of a stream that is not admitted here: agent streams (they
   * authenticate in their hello) count toward the total, public streams
   * (health Watch, reflection) per address. Undefined for any other stream:
   * `admitStream` lets those in. Throws ResourceExhausted when no slot is free.
   */
  streamSlot(peer: () => Peer): (() => void) | undefined {
    const { guard } = this.pipeline;
    if (guard.isAgentStream(this.rpc)) return guard.acquireAgentStream();
    if (guard.isPublic(this.rpc)) return guard.acquirePublicStream(peer());
    return undefined;
  }

  /** Admits a stream that carries its caller's credentials; its `release` frees the slot. */
  admitStream(header: Headers, peer: () => Peer): Promise<Admission> {
    return this.pipeline.guard.admit({ rpc: this.rpc, header, peer: peer(), message: undefined });
  }

  /** A call answered (a stream: ended without a failure): logged at debug level (the hot path stays quiet at the default level). */
  succeeded(): void {
    this.pipeline.observer?.(this.rpc, 0, this.started);
    if (this.pipeline.root.isLevelEnabled("debug")) this.logger().debug({ ms: Math.round(performance.now() - this.started) }, "rpc done");
  }

  /**
   * The call failed: returns the ConnectError it answers with (domain errors
   * mapped to their codes) and logs it once, expected failures at debug
   * level, unexpected ones at error level with the stack.
   */
  failed(err: unknown): ConnectError {
    const error = reportFailure(this.pipeline.root, this.logger, err, this.started);
    this.pipeline.observer?.(this.rpc, error.code, this.started);
    return error;
  }
}
