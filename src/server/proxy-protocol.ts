import { BlockList, isIP } from "node:net";
import type { Socket } from "node:net";
import {
  Command,
  IPv4ProxyAddress,
  IPv6ProxyAddress,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from "proxy-protocol-js";

/** The 12 bytes every PROXY protocol v2 header starts with. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_SIGNATURE = Buffer.from("PROXY ");
/** The longest v1 header the specification allows, CRLF included. */
const V1_MAX = 107;
const V2_FIXED = 16;

/** Where the proxied connection came from: the client's address and port. */
export interface ProxiedSource {
  address: string;
  port: number;
}

/** What the first bytes of a connection from a trusted proxy say. */
export type ProxyHeader =
  /** Not enough bytes yet to tell. */
  | { kind: "incomplete" }
  /** Not a PROXY header, or a broken one: the connection must be refused. */
  | { kind: "invalid"; reason: string }
  /**
   * A complete header of `length` bytes (the connection's own bytes follow it).
   * `source` is undefined for a LOCAL command (the proxy's own health check)
   * or an address family without an IP (UNSPEC, UNIX, v1 UNKNOWN): the
   * connection then stands for the proxy itself.
   */
  | { kind: "header"; length: number; source: ProxiedSource | undefined };

/**
 * Parses a PROXY protocol header (v2 binary or v1 text) at the start of `bytes`.
 * The framing (how many bytes make the header) is done here, the decoding by
 * proxy-protocol-js, which parses a whole header but does not frame a stream.
 */
export function parseProxyHeader(bytes: Buffer): ProxyHeader {
  if (startsLike(bytes, V2_SIGNATURE)) {
    if (bytes.length < V2_SIGNATURE.length) return { kind: "incomplete" };
    return parseV2(bytes);
  }
  if (startsLike(bytes, V1_SIGNATURE)) {
    if (bytes.length < V1_SIGNATURE.length) return { kind: "incomplete" };
    return parseV1(bytes);
  }
  return { kind: "invalid", reason: "the connection does not start with a PROXY protocol header" };
}

/**
 * Whether a connection's first bytes are a PROXY header's signature: "yes"
 * once a whole signature is there, "maybe" while they are a prefix of one
 * ("P" may still be POST), "no" otherwise.
 */
export function proxySignature(bytes: Buffer): "yes" | "maybe" | "no" {
  for (const signature of [V2_SIGNATURE, V1_SIGNATURE]) {
    if (!startsLike(bytes, signature)) continue;
    return bytes.length >= signature.length ? "yes" : "maybe";
  }
  return "no";
}

function parseV2(bytes: Buffer): ProxyHeader {
  if (bytes.length < V2_FIXED) return { kind: "incomplete" };
  const version = bytes[12] >> 4;
  if (version !== 2) return { kind: "invalid", reason: `PROXY v2 header with version ${version}` };
  const length = V2_FIXED + bytes.readUInt16BE(14);
  if (bytes.length < length) return { kind: "incomplete" };
  let header: V2ProxyProtocol;
  try {
    header = V2ProxyProtocol.parse(new Uint8Array(bytes.subarray(0, length)));
  } catch (err) {
    return { kind: "invalid", reason: `bad PROXY v2 header: ${(err as { message?: string }).message ?? String(err)}` };
  }
  if (header.command === Command.LOCAL) return { kind: "header", length, source: undefined };
  const a = header.proxyAddress;
  if (a instanceof IPv4ProxyAddress) return { kind: "header", length, source: { address: a.sourceAddress.address.join("."), port: a.sourcePort } };
  if (a instanceof IPv6ProxyAddress) return { kind: "header", length, source: { address: ipv6(a.sourceAddress.address), port: a.sourcePort } };
  return { kind: "header", length, source: undefined };
}

function parseV1(bytes: Buffer): ProxyHeader {
  const end = bytes.subarray(0, V1_MAX).indexOf("\r\n");
  if (end < 0) return bytes.length >= V1_MAX ? { kind: "invalid", reason: "PROXY v1 header longer than 107 bytes" } : { kind: "incomplete" };
  const length = end + 2;
  const text = bytes.subarray(0, length).toString("latin1");
  if (/^PROXY UNKNOWN[ \r]/.test(text)) return { kind: "header", length, source: undefined };
  let header: V1ProxyProtocol;
  try {
    header = V1ProxyProtocol.parse(text);
  } catch (err) {
    return { kind: "invalid", reason: `bad PROXY v1 header: ${(err as { message?: string }).message ?? String(err)}` };
  }
  const family = String(header.inetProtocol).endsWith("6") ? 6 : 4;
  const { ipAddress, port } = header.source;
  // The library's pattern takes any word as an address: check it is one, of the family named.
  if (isIP(ipAddress) !== family || !(port >= 0 && port <= 65535)) {
    return { kind: "invalid", reason: `bad PROXY v1 header: "${text.trim()}"` };
  }
  return { kind: "header", length, source: { address: family === 6 ? new URL(`http://[${ipAddress}]`).hostname.slice(1, -1) : ipAddress, port } };
}

/** Sixteen bytes as Node writes an IPv6 address (compressed, lower case). */
function ipv6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // The URL parser compresses the longest run of zero groups as Node's own addresses are.
  return new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1);
}

function startsLike(bytes: Buffer, signature: Buffer): boolean {
  const n = Math.min(bytes.length, signature.length);
  return bytes.subarray(0, n).equals(signature.subarray(0, n));
}

/** Whether a connection's own address is one of the trusted proxies (IPv4-mapped IPv6 counts as IPv4). */
export function isTrustedProxy(trusted: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4) return trusted.check(v4, "ipv4");
  const family = isIP(address);
  return family !== 0 && trusted.check(address, family === 6 ? "ipv6" : "ipv4");
}

/**
 * Reads the PROXY header off a new connection from a trusted proxy, puts back
 * the bytes after it, and calls `done` with what it carried; destroys the
 * socket (and never calls `done`) when the header is missing, broken, or does
 * not arrive within `timeoutMs`.
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
  done: (source: ProxiedSource | undefined) => void,
  refused: (reason: string) => void,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const silent = setTimeout(() => fail("no PROXY header in time"), timeoutMs);
  silent.unref();
  function fail(reason: string) {
    clearTimeout(silent);
    socket.off("data", onData);
    refused(reason);
    socket.destroy();
  }
  function onData(chunk: Buffer) {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const header = parseProxyHeader(seen);
    if (header.kind === "incomplete") return;
    if (header.kind === "invalid") return fail(header.reason);
    clearTimeout(silent);
    socket.off("data", onData);
    socket.pause();
    const rest = seen.subarray(header.length);
    if (rest.length > 0) socket.unshift(rest);
    done(header.source);
  }
  socket.on("data", onData);
}
