import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import type { TokenManager } from "../managers/token-manager.js";
import type { Peer } from "../shared/peer.js";
import { revokedError } from "./call-guard.js";
import type { CallPipeline, PipelineCall } from "./call-pipeline.js";
import { callerKey, peerKey, principalKey, rpcLoggerKey } from "./context.js";
import { callPeer, isGatewaySlice } from "./credentials.js";
import { INDEX_HEADER } from "../shared/write-index.js";

/**
 * Every Connect call (gRPC, gRPC-Web, Connect, and REST through the gateway's
 * in-process transport) through the CallPipeline, which the gRPC fast paths
 * pass too: this only moves what the pipeline decides into Connect's request
 * (the per-RPC logger, the caller) and wraps streams so that their failures
 * are reported, their slot freed when they end, and an operator's stream
 * ended when its token is revoked.
 */
export function pipelineInterceptor(pipeline: CallPipeline, tokens: TokenManager): Interceptor {
  return (next) => async (req) => {
    const call = pipeline.begin(`${req.service.typeName}/${req.method.name}`, req.header.get("x-request-id"));
    req.contextValues.set(rpcLoggerKey, call.logger);
    const fromAdapter = req.contextValues.get(peerKey);
    const peer = (): Peer => {
      const p = callPeer(fromAdapter, req.header);
      req.contextValues.set(peerKey, p);
      return p;
    };
    try {
      if (!req.stream) {
        const res = await call.unary(
          { header: req.header, peer, message: req.message, uncharged: isGatewaySlice(fromAdapter, req.header) },
          (principal, caller) => {
            req.contextValues.set(principalKey, principal);
            req.contextValues.set(callerKey, caller);
            return next(req);
          },
          (out) => out.message,
        );
        call.succeeded();
        if (call.index !== undefined) res.header.set(INDEX_HEADER, String(call.index));
        return res;
      }
      const slot = call.streamSlot(peer);
      if (slot) {
        releaseWhenDone(req.signal, slot);
        return reportingFailures((await next(req)) as StreamResponse, call);
      }
      const admission = await call.admitStream(req.header, peer);
      req.contextValues.set(principalKey, admission.principal);
      try {
        const { principal } = admission;
        // Only an operator token can be revoked under an open stream; other streams need no
        // wrapper, which would add an async generator step to every message.
        if (principal.kind !== "operator") {
          releaseWhenDone(req.signal, admission.release);
          return reportingFailures((await next(req)) as StreamResponse, call);
        }
        return reportingFailures(guardStream((await next(req)) as StreamResponse, admission.release, principal.tokenId, tokens), call);
      } catch (err) {
        admission.release();
        void admission.done(err);
        throw err;
      }
    } catch (err) {
      throw call.failed(err);
    }
  };
}

/** The call's signal aborts when the call is over, however it ends: then the stream's slot is free. */
function releaseWhenDone(signal: AbortSignal, release: () => void): void {
  if (signal.aborted) release();
  else signal.addEventListener("abort", release, { once: true });
}

/**
 * A stream whose end is reported through the pipeline: its failure, when it
 * comes, mapped and logged once; otherwise its end (the client's going away
 * included), as a success.
 */
function reportingFailures(res: StreamResponse, call: PipelineCall): StreamResponse {
  const inner = res.message;
  return {
    ...res,
    message: (async function* () {
      let failed = false;
      try {
        yield* inner;
      } catch (err) {
        failed = true;
        throw call.failed(err);
      } finally {
        if (!failed) call.succeeded();
      }
    })(),
  };
}

/** Releases the stream slot when the stream ends, and ends it if the operator's token is revoked. */
function guardStream(res: StreamResponse, release: () => void, tokenId: string, tokens: TokenManager): StreamResponse {
  const inner = res.message;
  return {
    ...res,
    message: (async function* () {
      let unsubscribe = () => {};
      const revoked = new Promise<never>((_, reject) => {
        unsubscribe = tokens.onRevoke(tokenId, () => reject(revokedError()));
      });
      revoked.catch(() => {});
      const it = inner[Symbol.asyncIterator]();
      try {
        for (;;) {
          const r = await Promise.race([it.next(), revoked]);
          if (r.done) return;
          yield r.value;
        }
      } finally {
        unsubscribe();
        release();
        // Not awaited: the inner stream may be waiting for an event; its handler ends with the call's signal.
        void it.return?.(undefined)?.catch(() => {});
      }
    })(),
  };
}
