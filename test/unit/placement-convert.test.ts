import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PlacementRequirementsSchema } from "../../gen/proto/capstan/v1/placement_pb.js";
import { requirementsFromProto } from "../../src/rpc/placement-convert.js";

const withConstraint = (operator: string, values: string[], key = "zone") => create(PlacementRequirementsSchema, { constraints: [{ key, operator, values }] });

describe("placement requirements from the wire", () => {
  it.each([
    ["= with no value", withConstraint("=", []), 'placement.constraints[0].values: "=" takes exactly one value, got 0 (use "in" or "not_in" for several)'],
    ["= with two values", withConstraint("=", ["a", "b"]), 'placement.constraints[0].values: "=" takes exactly one value, got 2 (use "in" or "not_in" for several)'],
    ["!= with two values", withConstraint("!=", ["a", "b"]), 'placement.constraints[0].values: "!=" takes exactly one value, got 2 (use "in" or "not_in" for several)'],
    ["in with no value", withConstraint("in", []), 'placement.constraints[0].values: "in" takes at least one value'],
    ["exists with a value", withConstraint("exists", ["a"]), 'placement.constraints[0].values: "exists" takes no values'],
    ["no key", withConstraint("=", ["a"], ""), "placement.constraints[0].key: is required"],
    ["an unknown operator", withConstraint("~", ["a"]), "placement.constraints[0].operator: must be one of =, !=, in, not_in, exists, not_exists"],
  ])("rejects %s, naming the field", (_name, pb, message) => {
    expect(() => requirementsFromProto(pb, "placement")).toThrow(message);
  });

  it.each([
    ["=", ["a"]],
    ["!=", ["a"]],
    ["in", ["a", "b"]],
    ["not_in", ["a"]],
    ["exists", []],
    ["not_exists", []],
  ])("accepts %s with %j", (operator, values) => {
    expect(requirementsFromProto(withConstraint(operator, values), "placement").constraints).toEqual([{ key: "zone", operator, values }]);
  });
});
