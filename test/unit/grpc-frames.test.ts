import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FrameReader, grpcFrame } from "../../src/rpc/grpc-frames.js";

const bytes = (...xs: number[]) => Buffer.from(xs);
const messages = [bytes(1, 2, 3), bytes(), bytes(...Array.from({ length: 40 }, (_, i) => i))];
const body = Buffer.concat(messages.map((m) => grpcFrame(m)));

/** Feeds `chunks` to a reader and returns every message it completed, as hex. */
function read(chunks: Buffer[], max = 100): string[] {
  const reader = new FrameReader(max);
  const out = chunks.flatMap((c) => reader.push(c)).map((m) => m.toString("hex"));
  reader.end();
  return out;
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return ConnectError.from(err).code;
  }
  return undefined;
};

describe("FrameReader", () => {
  it("reads the same messages however the body is split into chunks", () => {
    const want = messages.map((m) => m.toString("hex"));
    for (let cut = 0; cut <= body.length; cut++) {
      expect(read([body.subarray(0, cut), body.subarray(cut)])).toEqual(want);
    }
    expect(read([...body].map((b) => bytes(b)))).toEqual(want);
  });

  it("does not hold on to the chunk a remainder came in", () => {
    const reader = new FrameReader(100);
    const chunk = Buffer.concat([grpcFrame(bytes(9)), body.subarray(0, 3)]);
    expect(reader.push(chunk)).toHaveLength(1);
    chunk.fill(0);
    expect(reader.push(body.subarray(3)).map((m) => m.toString("hex"))).toEqual(messages.map((m) => m.toString("hex")));
  });

  it.each([
    ["a compressed frame", [bytes(1, 0, 0, 0, 1, 7)], Code.Internal],
    ["a message over the limit, refused from its header alone", [bytes(0, 0, 0, 0, 101)], Code.ResourceExhausted],
    ["a body that stops inside a frame header", [bytes(0, 0, 0)], Code.InvalidArgument],
    ["a body that stops inside a message", [bytes(0, 0, 0, 0, 4, 1, 2)], Code.InvalidArgument],
  ])("refuses %s with connect-node's code", (_what, chunks, code) => {
    expect(codeOf(() => read(chunks))).toBe(code);
  });

  it("accepts a message exactly at the limit", () => {
    expect(read([grpcFrame(Buffer.alloc(100, 1))])).toHaveLength(1);
  });
});
