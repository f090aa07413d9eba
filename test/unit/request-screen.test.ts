import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { createRequestScreen, hostName } from "../../src/server/request-screen.js";

const screen = createRequestScreen({ allowedHosts: ["cp.example.com", ".fleet.example"], ownNames: ["capstan-1.corp.example"], corsOrigins: ["https://dash.example"], tls: false });
const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const verdict = (headers: Record<string, string>) => screen(request(headers))?.message.split(" ").slice(0, 4).join(" ") ?? "ok";

describe("hostName", () => {
  it.each([
    ["127.0.0.1:8080", "127.0.0.1"],
    ["[::1]:8080", "::1"],
    ["::1", "::1"],
    ["Example.COM.:80", "example.com"],
    ["capstan", "capstan"],
    ["bad host!", undefined],
    ["[::1", undefined],
  ])("%s → %s", (host, name) => {
    expect(hostName(host)).toBe(name);
  });
});

describe("the request screen", () => {
  it.each([
    ["an IP literal", { host: "10.1.2.3:8080" }, "ok"],
    ["a single-label name", { host: "capstan:8080" }, "ok"],
    ["a local-only name", { host: "cp.home.arpa" }, "ok"],
    ["a listed name", { host: "cp.example.com:443" }, "ok"],
    ["a listed suffix", { host: "eu.fleet.example" }, "ok"],
    ["the suffix itself", { host: "fleet.example" }, "ok"],
    ["one of the server's own names", { host: "capstan-1.corp.example:8080" }, "ok"],
    ["a rebinding name", { host: "rebind.evil.example:8080" }, "this server does not"],
    ["a rebinding name with a credential header", { host: "rebind.evil.example", authorization: "Bearer x" }, "ok"],
    ["a rebinding name with a node token header", { host: "rebind.evil.example", "x-capstan-node-token": "x" }, "ok"],
    ["the server's own origin", { host: "10.1.2.3:8080", origin: "http://10.1.2.3:8080" }, "ok"],
    ["its origin behind a proxy", { host: "127.0.0.1:8080", "x-forwarded-host": "cp.example.com", origin: "https://cp.example.com" }, "ok"],
    ["a listed origin", { host: "10.1.2.3", origin: "https://dash.example" }, "ok"],
    ["another origin", { host: "10.1.2.3", origin: "https://evil.example" }, "calls from pages of"],
    ["a sandboxed page", { host: "10.1.2.3", origin: "null" }, "calls from pages of"],
    ["another origin with a credential header", { host: "10.1.2.3", origin: "https://evil.example", authorization: "Bearer x" }, "calls from pages of"],
  ])("%s: %s", (_what, headers, expected) => {
    expect(verdict(headers)).toBe(expected);
  });

  it("leaves Host alone over TLS, where a rebound name fails the certificate check", () => {
    const tls = createRequestScreen({ allowedHosts: [], ownNames: [], corsOrigins: [], tls: true });
    expect(tls(request({ host: "rebind.evil.example" }))).toBeUndefined();
    expect(tls(request({ host: "rebind.evil.example", origin: "https://evil.example" }))).toBeDefined();
  });
});
