import { describe, expect, it } from "vitest";
import { UnauthenticatedError } from "../../src/model/errors.js";
import type { Caller } from "../../src/model/principal.js";
import { hashToken } from "../../src/model/tokens.js";
import { forwardedCaller, ON_BEHALF_HEADER, onBehalfHeaders, REPLICA_SECRET_HEADER } from "../../src/rpc/replica-credentials.js";

const SECRET = "cluster-secret-0123456789abcdef";
const HASH = hashToken(SECRET);
const headers = (h: Record<string, string>) => new Headers(h);
const carried = (v: unknown) => encodeURIComponent(JSON.stringify(v));

describe("calls one replica forwards to another", () => {
  it.each<[string, Caller]>([
    ["an operator", { principal: { kind: "operator", tokenId: "t1", name: "ci", scope: "read" }, address: "10.0.0.9", forwarded: false }],
    ["a node", { principal: { kind: "node", nodeId: "n1" }, address: "10.0.0.1", forwarded: false }],
    ["an anonymous caller with its scopes", { principal: { kind: "anonymous", peer: "10.0.0.2", scopes: new Set(["read", "node"]) }, address: "10.0.0.2", forwarded: false }],
    ["a dev caller", { principal: { kind: "dev", peer: "127.0.0.1" }, address: "127.0.0.1", forwarded: false }],
  ])("carry %s through, as forwarded", (_what, caller) => {
    expect(forwardedCaller(headers(onBehalfHeaders(SECRET, caller)), HASH)).toEqual({ ...caller, forwarded: true });
  });

  it("are ordinary calls without either header", () => {
    expect(forwardedCaller(headers({ authorization: "Bearer x" }), HASH)).toBeUndefined();
  });

  it.each([
    ["a principal without the secret", { [ON_BEHALF_HEADER]: carried({ principal: { kind: "dev", peer: "" } }) }, HASH],
    ["a principal with a wrong secret", { [ON_BEHALF_HEADER]: carried({ principal: { kind: "dev", peer: "" } }), [REPLICA_SECRET_HEADER]: "x".repeat(31) }, HASH],
    ["the right secret on a replica without CLUSTER_SECRET", { [ON_BEHALF_HEADER]: carried({ principal: { kind: "dev", peer: "" } }), [REPLICA_SECRET_HEADER]: SECRET }, undefined],
    ["the secret without a principal", { [REPLICA_SECRET_HEADER]: SECRET }, HASH],
    ["an unreadable principal", { [ON_BEHALF_HEADER]: "%%%{", [REPLICA_SECRET_HEADER]: SECRET }, HASH],
    ["an unknown kind of principal", { [ON_BEHALF_HEADER]: carried({ principal: { kind: "root" } }), [REPLICA_SECRET_HEADER]: SECRET }, HASH],
    ["an operator with no such scope", { [ON_BEHALF_HEADER]: carried({ principal: { kind: "operator", tokenId: "t", name: "n", scope: "god" } }), [REPLICA_SECRET_HEADER]: SECRET }, HASH],
  ])("refuse %s", (_what, h, hash) => {
    expect(() => forwardedCaller(headers(h), hash)).toThrow(UnauthenticatedError);
  });
});
