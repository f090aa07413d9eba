import { createContextKey } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Caller, Principal } from "../model/principal.js";
import type { Peer } from "../shared/peer.js";

/**
 * The per-RPC child logger (method and request id bound), set by the pipeline
 * interceptor. It is made on first use: most calls never log, and making a
 * pino child serialises its bindings. Handlers call
 * `ctx.values.get(rpcLoggerKey)?.()`; it is unset for handlers called without
 * the interceptor (unit tests).
 */
export const rpcLoggerKey = createContextKey<(() => Logger) | undefined>(undefined, { description: "per-RPC logger" });

/**
 * The network peer, set by the Connect adapter for every call that arrives
 * over the network. Calls the REST gateway makes in process have none here and
 * carry their caller's peer in a header instead (see credentials.ts).
 */
export const peerKey = createContextKey<Peer | undefined>(undefined, { description: "network peer" });

/** The caller, set by the pipeline interceptor before any handler runs. */
export const principalKey = createContextKey<Principal>({ kind: "none", peer: "" }, { description: "caller" });

/** The caller with its address, and whether another replica forwarded the call (set with principalKey). */
export const callerKey = createContextKey<Caller>({ principal: { kind: "none", peer: "" }, address: "", forwarded: false }, { description: "caller with address" });
