import { describe, expect, it } from "vitest";
import { dockerVersionForHello, MAX_DOCKER_VERSION } from "../../src/capstan-agent/host-facts.js";

describe("the Docker version an agent's hello carries", () => {
  it.each([
    ["a plain version is sent as is", "27.1.0", "27.1.0", false],
    ["surrounding white space is trimmed", " 24.0.7\n", "24.0.7", false],
    ["no Docker at all sends nothing, silently", "", "", false],
    ["a version at the contract's limit is kept", "1".repeat(MAX_DOCKER_VERSION), "1".repeat(MAX_DOCKER_VERSION), false],
    ["a long string keeps its leading version token", `27.0.1 ${"extra ".repeat(20)}`, "27.0.1", true],
    ["a v-prefixed build tag is a version token", `v24.0.7-ce+build.1 and then a banner ${"!".repeat(60)}`, "v24.0.7-ce+build.1", true],
    ["a banner with no version sends none", `WARNING: emulating Docker ${"x".repeat(80)}`, "", true],
    ["a multi-line answer sends none", "Client:\n Version: 27", "", true],
    ["an over-long version token sends none", "1".repeat(MAX_DOCKER_VERSION + 1), "", true],
  ])("%s", (_label, raw, version, dropped) => {
    const out = dockerVersionForHello(raw);
    expect(out.version).toBe(version);
    expect(out.version.length).toBeLessThanOrEqual(MAX_DOCKER_VERSION);
    expect(Boolean(out.dropped)).toBe(dropped);
  });
});
