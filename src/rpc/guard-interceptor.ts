import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import type { TokenManager } from "../managers/token-manager.js";
import { revokedError, type CallGuard } from "./call-guard.js";
import { withDeadline } from "./call-limits.js";
import { peerKey, principalKey } from "./context.js";
import { callPeer, isGatewaySlice } from "./credentials.js";

/**
 * The gate every Connect call (gRPC, gRPC-Web, Connect, and REST through the
 * gateway's in-process transport) passes after the boundary interceptor: the
 * CallGuard lets it in or not; then unary calls get a deadline, and streams
 * end when the operator token they were opened with is revoked. Public calls
 * (health, info, reflection) skip all of it, but public streams still count
 * toward the stream bounds.
 */
export function guardInterceptor(guard: CallGuard, tokens: TokenManager): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    if (guard.isAgentStream(rpc)) {
      releaseWhenDone(req.signal, guard.acquireAgentStream());
      return next(req);
    }
    if (guard.isPublic(rpc)) {
      if (req.stream) releaseWhenDone(req.signal, guard.acquirePublicStream(callPeer(req.contextValues.get(peerKey), req.header)));
      return next(req);
    }
    const fromAdapter = req.contextValues.get(peerKey);
    const peer = callPeer(fromAdapter, req.header);
    req.contextValues.set(peerKey, peer);
    const admission = await guard.admit({
      rpc,
      header: req.header,
      peer,
      message: req.stream ? undefined : req.message,
      uncharged: isGatewaySlice(fromAdapter, req.header),
    });
    req.contextValues.set(principalKey, admission.principal);
    try {
      if (req.stream) {
        const { principal } = admission;
        // Only an operator token can be revoked under an open stream; other streams need no
        // wrapper, which would add an async generator step to every message.
        if (principal.kind !== "operator") {
          releaseWhenDone(req.signal, admission.release);
          return await next(req);
        }
        return guardStream((await next(req)) as StreamResponse, admission.release, principal.tokenId, tokens);
      }
      const res = await withDeadline(next(req), guard.rpcTimeoutMs);
      // A mutating call answers once its audit event is stored.
      await admission.done(undefined, res.message);
      return res;
    } catch (err) {
      admission.release();
      void admission.done(err);
      throw err;
    }
  };
}

/** The call's signal aborts when the call is over, however it ends: then the stream's slot is free. */
function releaseWhenDone(signal: AbortSignal, release: () => void): void {
  if (signal.aborted) release();
  else signal.addEventListener("abort", release, { once: true });
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
