import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** The other end of a connection, as far as the server can vouch for it. */
export interface Peer {
  /** The remote IP address ("" when unknown). */
  address: string;
  /**
   * Names in a client certificate that chains to TLS_CLIENT_CA (subject CN,
   * DNS and URI subject alternative names); undefined when no such certificate
   * was presented.
   */
  certNames: string[] | undefined;
}

/** The header the REST gateway uses to carry the caller's Peer into its in-process call. */
export const GATEWAY_PEER_HEADER = "x-capstan-gateway-peer";

/**
 * The header on the REST gateway's in-process calls that fetch the second and
 * later slices of one unpaged list (gateway/all-pages.ts): the request was
 * charged once, at its first slice.
 */
export const GATEWAY_SLICE_HEADER = "x-capstan-gateway-slice";

/** The peer of a Node request, HTTP/1.1 or HTTP/2. */
export function peerOf(req: IncomingMessage | Http2ServerRequest): Peer {
  const socket = ("stream" in req ? req.stream.session?.socket : req.socket) as Socket | TLSSocket | undefined;
  return peerOfSocket(socket);
}

/**
 * Makes a connection stand for the client a trusted proxy says it carries
 * (PROXY protocol): its remoteAddress, remotePort and remoteFamily become the
 * client's, so every reader of the peer (Connect, the gRPC fast paths, REST,
 * WebSocket upgrades, logs) sees the caller and not the proxy. Set as own
 * properties of this socket only: they shadow the getters that would ask the
 * kernel, which only knows the proxy.
 */
export function carryAddress(socket: Socket, source: { address: string; port: number }): void {
  const family = source.address.includes(":") ? "IPv6" : "IPv4";
  Object.defineProperties(socket, {
    remoteAddress: { value: source.address, configurable: true },
    remotePort: { value: source.port, configurable: true },
    remoteFamily: { value: family, configurable: true },
  });
}

/** The peer of a socket (e.g. of a WebSocket upgrade). */
export function peerOfSocket(socket: Socket | TLSSocket | undefined): Peer {
  const address = socket?.remoteAddress ?? "";
  // HTTP/2's session.socket is a Proxy that forwards property reads but not `in`: read, don't test.
  const tls = socket as TLSSocket | undefined;
  if (tls?.authorized !== true) return { address, certNames: undefined };
  const cert = tls.getPeerCertificate();
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === "string" && cn !== "") names.push(cn);
  for (const entry of (cert.subjectaltname ?? "").split(",")) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(entry);
    if (m) names.push(m[2].trim());
  }
  return { address, certNames: names };
}

/** Whether an address is on loopback (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopback(address: string): boolean {
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}
