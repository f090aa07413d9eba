import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CallRateLimiter, StreamCounter } from "../../src/rpc/call-limits.js";

describe("call limits", () => {
  it("bounds streams per client and in total, and frees slots once", () => {
    const streams = new StreamCounter(3, 2);
    const a1 = streams.acquire("a");
    streams.acquire("a");
    expect(() => streams.acquire("a")).toThrow(/2 open streams/);
    const b = streams.acquire("b");
    expect(() => streams.acquire("c")).toThrow(/maximum of 3 streams/);
    a1();
    a1();
    expect(streams.open).toBe(2);
    streams.acquire(undefined);
    expect(() => streams.acquire(undefined)).toThrow(ConnectError);
    b();
    expect(streams.open).toBe(2);
  });

  it("refuses calls over the rate with ResourceExhausted and a retry-after", async () => {
    const rate = new CallRateLimiter(3);
    for (let i = 0; i < 3; i++) await rate.consume("k");
    const err = await rate.consume("k").catch((e: unknown) => e as ConnectError);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect(Number((err as ConnectError).metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await rate.consume("other-client");
  });

  it("does not limit when the rate is 0", async () => {
    const rate = new CallRateLimiter(0);
    for (let i = 0; i < 1000; i++) await rate.consume("k");
  });
});
