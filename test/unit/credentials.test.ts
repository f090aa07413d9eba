import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { emptyCapabilities } from "../../src/model/node.js";
import { NodeRegistry } from "../../src/managers/node-registry.js";
import { TokenManager } from "../../src/managers/token-manager.js";
import { hashToken } from "../../src/model/tokens.js";
import { callPeer, isGatewaySlice, resolvePrincipal, type CredentialDeps } from "../../src/rpc/credentials.js";
import { GATEWAY_PEER_HEADER, GATEWAY_SLICE_HEADER } from "../../src/shared/peer.js";
import { NodeState } from "../../src/state/node-state.js";
import { MemoryNodeStore } from "../fakes/memory-node-store.js";
import { MemoryTokenStore } from "../fakes/memory-token-store.js";

const logger = pino({ level: "silent" });
const JOIN = "join-0123456789abcdef";

async function deps(env: Record<string, string> = {}): Promise<CredentialDeps & { nodeToken: string; adminSecret: string }> {
  const tokens = new TokenManager(new MemoryTokenStore(), logger);
  const adminSecret = (await tokens.bootstrap(undefined))!;
  const registry = new NodeRegistry({ store: new MemoryNodeStore(), state: new NodeState(), logger });
  const { token } = await registry.register({ nodeId: "n1", name: "n1", address: "", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, agentVersion: "" }, { kind: "rest", credentialed: true, anonymous: false, certNames: undefined });
  return { tokens, registry, joinHash: hashToken(JOIN), auth: loadConfig(env, false).auth, nodeToken: token, adminSecret };
}
const peer = (address: string) => ({ address, certNames: undefined });

describe("resolvePrincipal", () => {
  it("tells operator, join and node tokens apart", async () => {
    const d = await deps();
    expect(resolvePrincipal(d.adminSecret, peer("10.0.0.1"), d)).toMatchObject({ kind: "operator", scope: "admin" });
    expect(resolvePrincipal(JOIN, peer("10.0.0.1"), d)).toEqual({ kind: "join" });
    expect(resolvePrincipal(d.nodeToken, peer("10.0.0.1"), d)).toEqual({ kind: "node", nodeId: "n1" });
  });

  it("refuses an unknown token even where token-less callers would get in", async () => {
    const d = await deps({ CAPSTAN_DEV: "1", CAPSTAN_ANONYMOUS_SCOPES: "read" });
    expect(() => resolvePrincipal("cap_wrong", peer("127.0.0.1"), d)).toThrow(/not valid/);
  });

  const tokenless: Array<[string, Record<string, string>, string, string]> = [
    ["dev mode on loopback (IPv4)", { CAPSTAN_DEV: "1" }, "127.0.0.1", "dev"],
    ["dev mode on loopback (IPv6)", { CAPSTAN_DEV: "1" }, "::1", "dev"],
    ["dev mode on IPv4-mapped loopback", { CAPSTAN_DEV: "1" }, "::ffff:127.0.0.1", "dev"],
    ["dev mode from another address", { CAPSTAN_DEV: "1" }, "10.1.2.3", "none"],
    ["no dev mode on loopback", {}, "127.0.0.1", "none"],
    ["anonymous scopes from anywhere", { CAPSTAN_ANONYMOUS_SCOPES: "read,node" }, "203.0.113.9", "anonymous"],
    ["anonymous scopes inside the allowed network", { CAPSTAN_ANONYMOUS_SCOPES: "node", CAPSTAN_ANONYMOUS_NETWORKS: "10.0.0.0/8" }, "10.9.8.7", "anonymous"],
    ["anonymous scopes inside the allowed network, IPv4-mapped", { CAPSTAN_ANONYMOUS_SCOPES: "node", CAPSTAN_ANONYMOUS_NETWORKS: "10.0.0.0/8" }, "::ffff:10.9.8.7", "anonymous"],
    ["anonymous scopes outside the allowed network", { CAPSTAN_ANONYMOUS_SCOPES: "node", CAPSTAN_ANONYMOUS_NETWORKS: "10.0.0.0/8" }, "192.0.2.1", "none"],
    ["anonymous scopes with an unknown address", { CAPSTAN_ANONYMOUS_SCOPES: "node", CAPSTAN_ANONYMOUS_NETWORKS: "10.0.0.0/8" }, "", "none"],
  ];
  it.each(tokenless)("without a token: %s", async (_name, env, address, kind) => {
    expect(resolvePrincipal("", peer(address), await deps(env)).kind).toBe(kind);
  });
});

describe("callPeer", () => {
  it("ignores a forged gateway header on calls that came over the network", () => {
    const h = new Headers({ [GATEWAY_PEER_HEADER]: JSON.stringify({ address: "10.0.0.1" }) });
    expect(callPeer(peer("203.0.113.5"), h).address).toBe("203.0.113.5");
  });

  it("reads the gateway's header on in-process calls, and vouches for nothing when it is unreadable", () => {
    expect(callPeer(undefined, new Headers({ [GATEWAY_PEER_HEADER]: JSON.stringify({ address: "10.0.0.1", certNames: ["n1"] }) }))).toEqual({ address: "10.0.0.1", certNames: ["n1"] });
    expect(callPeer(undefined, new Headers({ [GATEWAY_PEER_HEADER]: "{not json" }))).toEqual({ address: "", certNames: undefined });
  });
});

describe("isGatewaySlice", () => {
  it.each([
    ["an in-process call with the header", undefined, "1", true],
    ["an in-process call without it", undefined, undefined, false],
    ["a network call claiming to be a slice (not charged otherwise)", "203.0.113.5", "1", false],
    ["an in-process call with another value", undefined, "yes", false],
  ])("%s: %s", (_, address, value, expected) => {
    const h = new Headers(value === undefined ? {} : { [GATEWAY_SLICE_HEADER]: value });
    expect(isGatewaySlice(address === undefined ? undefined : peer(address), h)).toBe(expected);
  });
});
