import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/model/errors.js";
import { optionalAddress, requireId, validateLabels, validateTags } from "../../src/model/validate.js";
import { parseDuration } from "../../src/model/duration.js";

describe("address validation", () => {
  it.each([
    ["", true],
    ["192.168.1.10", true],
    ["10.0.0.1:8080", true],
    ["worker-01.example.com", true],
    ["worker-01", true],
    ["::1", true],
    ["[::1]:7000", true],
    ["fe80::1", true],
    ["256.1.1.1", false],
    ["1.2.3", false],
    ["host:0", false],
    ["host:70000", false],
    ["bad host", false],
    ["http://x", false],
    ["-leading.example", false],
    ["[nothex]:80", false],
  ])("%j valid=%s", (address, valid) => {
    const run = () => optionalAddress("address", address);
    if (valid) expect(run()).toBe(address);
    else expect(run).toThrowError(/^address: /);
  });
});

describe("id validation", () => {
  it.each([
    ["node-123", true],
    ["550e8400-e29b-41d4-a716-446655440000", true],
    ["a.b_c:d@e", true],
    ["", false],
    ["-x", false],
    ["has space", false],
    ["x".repeat(129), false],
    ["x".repeat(128), true],
  ])("%j valid=%s", (id, valid) => {
    const run = () => requireId("node_id", id);
    if (valid) expect(run()).toBe(id);
    else expect(run).toThrow(InvalidArgumentError);
  });
});

describe("labels and tags", () => {
  it("names the offending label key", () => {
    expect(() => validateLabels("labels", { "bad key": "x" })).toThrowError(/^labels\.bad key: /);
  });
  it("rejects control characters in label values", () => {
    expect(() => validateLabels("labels", { zone: "a\nb" })).toThrowError(/labels\.zone: must not contain control/);
  });
  it("deduplicates tags and names a bad one by index", () => {
    expect(validateTags("tags", ["docker", "docker", "gpu"])).toEqual(["docker", "gpu"]);
    expect(() => validateTags("tags", ["docker", ""])).toThrowError(/^tags\[1\]: /);
  });
});

describe("durations", () => {
  it.each([
    ["15s", 15_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["15", undefined],
    ["s", undefined],
    ["10x", undefined],
    ["", undefined],
  ])("%j is %s ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
