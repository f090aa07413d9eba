import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { UnaryDeadlines } from "../../src/rpc/unary-deadlines.js";

/** Where a call stands: settled with a value or an error code, or still running. */
function track(p: Promise<unknown>): { state: () => unknown } {
  let state: unknown = "running";
  p.then(
    (value) => (state = { value }),
    (err: { code?: Code }) => (state = { code: err.code }),
  );
  return { state: () => state };
}

const never = () => new Promise<never>(() => {});

describe("RPC_TIMEOUT on one timer (UnaryDeadlines)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ["a resolved promise", () => Promise.resolve(7), { value: 7 }],
    ["a plain value", () => 7, { value: 7 }],
    ["a rejected promise", () => Promise.reject(Object.assign(new Error("no"), { code: Code.NotFound })), { code: Code.NotFound }],
    ["a synchronous throw", () => {
      throw Object.assign(new Error("no"), { code: Code.InvalidArgument });
    }, { code: Code.InvalidArgument }],
  ])("settles like the handler within the deadline: %s", async (_name, handler, expected) => {
    const call = track(new UnaryDeadlines(10_000).run(handler));
    await new Promise((r) => setImmediate(r));
    expect(call.state()).toEqual(expected);
  });

  it("fails a handler that computes past its deadline without yielding, whose answer is as late", async () => {
    const busy = () => {
      const until = performance.now() + 20;
      while (performance.now() < until);
      return 7;
    };
    await expect(new UnaryDeadlines(5).run(busy)).rejects.toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "the call did not finish within 5 ms" });
    await expect(new UnaryDeadlines(5).run(async () => busy())).rejects.toMatchObject({ code: Code.DeadlineExceeded });
  });

  it("fails each call when its own deadline passes, oldest first, and answers the calls that finish in time", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const deadlines = new UnaryDeadlines(100);
    const a = track(deadlines.run(never));
    await vi.advanceTimersByTimeAsync(60);
    const b = track(deadlines.run(() => new Promise((resolve) => setTimeout(() => resolve("b"), 70))));
    const c = track(deadlines.run(never));
    await vi.advanceTimersByTimeAsync(39);
    expect([a.state(), b.state(), c.state()]).toEqual(["running", "running", "running"]);
    await vi.advanceTimersByTimeAsync(2);
    expect([a.state(), b.state(), c.state()]).toEqual([{ code: Code.DeadlineExceeded }, "running", "running"]);
    await vi.advanceTimersByTimeAsync(30);
    expect([b.state(), c.state()]).toEqual([{ value: "b" }, "running"]);
    await vi.advanceTimersByTimeAsync(30);
    expect(c.state()).toEqual({ code: Code.DeadlineExceeded });
  });

  it("holds no timer while no call runs, so it keeps no process alive", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const deadlines = new UnaryDeadlines(1000);
    let finish: (v: string) => void = () => {};
    const calls = [track(deadlines.run(() => new Promise<string>((r) => (finish = r)))), track(deadlines.run(() => Promise.resolve("quick")))];
    await vi.advanceTimersByTimeAsync(1);
    expect(vi.getTimerCount()).toBe(1);
    finish("slow");
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.state())).toEqual([{ value: "slow" }, { value: "quick" }]);
    expect(vi.getTimerCount()).toBe(0);
    const late = track(deadlines.run(never));
    await vi.advanceTimersByTimeAsync(1000);
    expect(late.state()).toEqual({ code: Code.DeadlineExceeded });
    expect(vi.getTimerCount()).toBe(0);
  });
});
