import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import type { Principal } from "../domain/principal.js";
import type { TokenManager } from "../domain/token-manager.js";
import { revokedError, type CallGuard } from "./call-guard.js";
import { withDeadline } from "./call-limits.js";
import { peerKey, principalKey } from "./context.js";
import { callPeer } from "./credentials.js";

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
    const peer = callPeer(req.contextValues.get(peerKey), req.header);
    if (guard.isPublic(rpc)) {
      if (!req.stream) return next(req);
      const release = guard.acquirePublicStream(peer);
      try {
        return guardStream((await next(req)) as StreamResponse, release, { kind: "none", peer: peer.address }, tokens);
      } catch (err) {
        release();
        throw err;
      }
    }
    req.contextValues.set(peerKey, peer);
    const admission = await guard.admit({ rpc, header: req.header, peer, message: req.stream ? undefined : req.message });
    req.contextValues.set(principalKey, admission.principal);
    try {
      if (req.stream) return guardStream((await next(req)) as StreamResponse, admission.release, admission.principal, tokens);
      const res = await withDeadline(next(req), guard.rpcTimeoutMs);
      admission.done();
      return res;
    } catch (err) {
      admission.release();
      admission.done(err);
      throw err;
    }
  };
}

/** Releases the stream slot when the stream ends, and ends it if the operator's token is revoked. */
function guardStream(res: StreamResponse, release: () => void, principal: Principal, tokens: TokenManager): StreamResponse {
  const inner = res.message;
  return {
    ...res,
    message: (async function* () {
      let unsubscribe = () => {};
      const revoked =
        principal.kind === "operator"
          ? new Promise<never>((_, reject) => {
              unsubscribe = tokens.onRevoke(principal.tokenId, () => reject(revokedError()));
            })
          : undefined;
      revoked?.catch(() => {});
      const it = inner[Symbol.asyncIterator]();
      try {
        for (;;) {
          const r = revoked ? await Promise.race([it.next(), revoked]) : await it.next();
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
