import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/model/errors.js";
import { emptyCapabilities, type Node } from "../../src/model/node.js";
import { checkRegistration, type RegistrationCase, type RegistrationClaim } from "../../src/model/registration-rules.js";

const node = (id: string, name: string, anonymous: boolean): Node => ({
  id, name, address: "", labels: {}, tags: [], capabilities: emptyCapabilities(), ports: {}, status: "online", eligibility: "eligible",
  draining: false, agentVersion: "", tokenHash: "h", anonymous, agentKind: "rest", metrics: undefined, lastHeartbeatAt: undefined,
  createdAt: new Date(0), updatedAt: new Date(0),
});
const tokenless: RegistrationClaim = { kind: "rest", credentialed: false, anonymous: true, certNames: undefined };
const credentialed: RegistrationClaim = { ...tokenless, credentialed: true, anonymous: false };
const withCert = (...names: string[]): RegistrationClaim => ({ ...credentialed, certNames: names });
const held = node("b", "node-b", false);
const anon = node("e", "edge", true);

const outcome = (c: RegistrationCase) => {
  try {
    checkRegistration(c);
    return "ok";
  } catch (err) {
    return err instanceof DomainError ? err.kind : String(err);
  }
};

describe("checkRegistration", () => {
  const cases: Array<[string, RegistrationCase, string]> = [
    ["a new node under a free name", { existing: undefined, nodeId: "n", name: "n", nameHolder: undefined, claim: tokenless, certifiedNames: false }, "ok"],
    ["token-less onto an anonymous node", { existing: anon, nodeId: "e", name: "edge", nameHolder: anon, claim: tokenless, certifiedNames: false }, "ok"],
    ["token-less onto a node holding a token", { existing: held, nodeId: "b", name: "node-b", nameHolder: held, claim: tokenless, certifiedNames: false }, "unauthenticated"],
    ["a credential onto a node holding a token", { existing: held, nodeId: "b", name: "node-b", nameHolder: held, claim: credentialed, certifiedNames: false }, "ok"],
    ["a new node under a name its kind holds", { existing: undefined, nodeId: "evil", name: "node-b", nameHolder: held, claim: tokenless, certifiedNames: false }, "already_exists"],
    ["even with a credential", { existing: undefined, nodeId: "n2", name: "node-b", nameHolder: held, claim: credentialed, certifiedNames: false }, "already_exists"],
    ["a rename onto a held name", { existing: anon, nodeId: "e", name: "node-b", nameHolder: held, claim: tokenless, certifiedNames: false }, "already_exists"],
    ["a rename without mutual TLS", { existing: held, nodeId: "b", name: "node-x", nameHolder: undefined, claim: credentialed, certifiedNames: false }, "ok"],
    ["a rename with mutual TLS, no certificate", { existing: held, nodeId: "b", name: "node-x", nameHolder: undefined, claim: credentialed, certifiedNames: true }, "permission_denied"],
    ["a rename with the new name's certificate only", { existing: held, nodeId: "b", name: "node-x", nameHolder: undefined, claim: withCert("node-x"), certifiedNames: true }, "permission_denied"],
    ["a rename with the node's certificate only", { existing: held, nodeId: "b", name: "node-x", nameHolder: undefined, claim: withCert("node-b"), certifiedNames: true }, "permission_denied"],
    ["a rename with a certificate naming both", { existing: held, nodeId: "b", name: "node-x", nameHolder: undefined, claim: withCert("b", "node-x"), certifiedNames: true }, "ok"],
    ["mutual TLS, same name, no certificate", { existing: held, nodeId: "b", name: "node-b", nameHolder: held, claim: credentialed, certifiedNames: true }, "ok"],
  ];
  it.each(cases)("%s", (_name, c, expected) => {
    expect(outcome(c)).toBe(expected);
  });
});
