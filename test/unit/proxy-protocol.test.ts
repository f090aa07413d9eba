import { BlockList } from "node:net";
import {
  Command,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  TransportProtocol,
  UnspecProxyAddress,
  V2ProxyProtocol,
} from "proxy-protocol-js";
import { describe, expect, it } from "vitest";
import { isTrustedProxy, parseProxyHeader, proxySignature, V2_SIGNATURE } from "../../src/server/proxy-protocol.js";

/** A v2 header as HAProxy's send-proxy-v2 writes it, built by the library (not by the code under test). */
function v2(source: string, port: number, command = Command.PROXY): Buffer {
  const address = source.includes(":")
    ? new IPv6ProxyAddress(IPv6Address.createFrom(ipv6Bytes(source)), port, IPv6Address.createFrom(ipv6Bytes("::1")), 8080)
    : new IPv4ProxyAddress(IPv4Address.createFrom(source.split(".").map(Number) as [number, number, number, number]), port, IPv4Address.createFrom([127, 0, 0, 1]), 8080);
  return Buffer.from(new V2ProxyProtocol(command, TransportProtocol.STREAM, address).build());
}

function ipv6Bytes(text: string): [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number] {
  const [head, tail = ""] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]) as never;
}

/** A v2 header with extra TLV bytes after the addresses (HAProxy may add some). */
function withTlv(header: Buffer, tlv: Buffer): Buffer {
  const out = Buffer.concat([header, tlv]);
  out.writeUInt16BE(out.length - 16, 14);
  return out;
}

const http = Buffer.from("GET /health HTTP/1.1\r\n\r\n");
const local = Buffer.from(new V2ProxyProtocol(Command.LOCAL, TransportProtocol.UNSPEC, new UnspecProxyAddress()).build());

describe("PROXY protocol header parsing", () => {
  const cases: Array<[string, Buffer, ReturnType<typeof parseProxyHeader>]> = [
    ["v2 over IPv4", v2("203.0.113.7", 40000), { kind: "header", length: 28, source: { address: "203.0.113.7", port: 40000 } }],
    ["v2 over IPv6, written as Node writes addresses", v2("2001:db8::7", 41000), { kind: "header", length: 52, source: { address: "2001:db8::7", port: 41000 } }],
    ["v2 with the request's bytes after it", Buffer.concat([v2("10.1.2.3", 5), http]), { kind: "header", length: 28, source: { address: "10.1.2.3", port: 5 } }],
    ["v2 with TLVs after the addresses", withTlv(v2("10.1.2.3", 5), Buffer.from([0x04, 0x00, 0x01, 0x00])), { kind: "header", length: 32, source: { address: "10.1.2.3", port: 5 } }],
    ["v2 LOCAL (the proxy's own health check) carries no caller", local, { kind: "header", length: 16, source: undefined }],
    ["v1 TCP4", Buffer.from("PROXY TCP4 192.0.2.9 127.0.0.1 51000 8080\r\nGET"), { kind: "header", length: 43, source: { address: "192.0.2.9", port: 51000 } }],
    ["v1 TCP6", Buffer.from("PROXY TCP6 2001:db8:0:0::9 ::1 51000 8080\r\n"), { kind: "header", length: 43, source: { address: "2001:db8::9", port: 51000 } }],
    ["v1 UNKNOWN carries no caller", Buffer.from("PROXY UNKNOWN\r\n"), { kind: "header", length: 15, source: undefined }],
    ["a truncated v2 signature", V2_SIGNATURE.subarray(0, 7), { kind: "incomplete" }],
    ["a v2 header cut before its length", v2("10.0.0.1", 1).subarray(0, 15), { kind: "incomplete" }],
    ["a v2 header cut inside its addresses", v2("10.0.0.1", 1).subarray(0, 20), { kind: "incomplete" }],
    ["a v1 header without its CRLF yet", Buffer.from("PROXY TCP4 192.0.2.9 127.0.0.1 5"), { kind: "incomplete" }],
    ["a bare P (may yet be PROXY)", Buffer.from("P"), { kind: "incomplete" }],
  ];
  it.each(cases)("reads %s", (_name, bytes, expected) => {
    expect(parseProxyHeader(bytes)).toEqual(expected);
  });

  const broken: Array<[string, Buffer]> = [
    ["an HTTP request", http],
    ["an HTTP/2 preface", Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")],
    ["a TLS ClientHello", Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01])],
    ["v2 with version 1 in its version nibble", Object.assign(v2("10.0.0.1", 1), {}).fill(0x11, 12, 13)],
    ["v2 with an unknown command", v2("10.0.0.1", 1).fill(0x2f, 12, 13)],
    ["v2 with an unknown address family", v2("10.0.0.1", 1).fill(0x71, 13, 14)],
    ["v2 whose length is shorter than its address family", (() => { const b = v2("10.0.0.1", 1); b.writeUInt16BE(4, 14); return b; })()],
    ["v1 with a word for an address", Buffer.from("PROXY TCP4 evil 127.0.0.1 1 2\r\n")],
    ["v1 with an IPv6 address under TCP4", Buffer.from("PROXY TCP4 ::1 127.0.0.1 1 2\r\n")],
    ["v1 with an unknown protocol", Buffer.from("PROXY SCTP 10.0.0.1 10.0.0.2 1 2\r\n")],
    ["v1 longer than 107 bytes without a CRLF", Buffer.from(`PROXY TCP4 ${"1".repeat(120)}`)],
  ];
  it.each(broken)("refuses %s", (_name, bytes) => {
    expect(parseProxyHeader(bytes)).toMatchObject({ kind: "invalid" });
  });
});

describe("PROXY signature on a connection from an untrusted peer", () => {
  const cases: Array<[string, string | Buffer, "yes" | "maybe" | "no"]> = [
    ["a whole v2 signature", V2_SIGNATURE, "yes"],
    ["a whole v1 signature", "PROXY ", "yes"],
    ["the start of one", "PRO", "maybe"],
    ["a POST", "POST / HTTP/1.1", "no"],
    ["a PROPFIND (not PROXY once the X is missing)", "PROPFIND", "no"],
    ["an HTTP/2 preface", "PRI * HTTP/2.0", "no"],
  ];
  it.each(cases)("sees %s as %s", (_name, bytes, expected) => {
    expect(proxySignature(Buffer.from(bytes))).toBe(expected);
  });
});

describe("trusted proxies", () => {
  const trusted = new BlockList();
  trusted.addSubnet("10.0.0.0", 24, "ipv4");
  trusted.addAddress("fd00::5", "ipv6");
  const cases: Array<[string | undefined, boolean]> = [
    ["10.0.0.9", true],
    ["::ffff:10.0.0.9", true],
    ["10.0.1.9", false],
    ["::ffff:10.0.1.9", false],
    ["fd00::5", true],
    ["fd00::6", false],
    ["", false],
    [undefined, false],
  ];
  it.each(cases)("trusts %s: %s", (address, expected) => {
    expect(isTrustedProxy(trusted, address)).toBe(expected);
  });
});
