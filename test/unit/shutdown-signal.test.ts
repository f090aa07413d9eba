import { describe, expect, it } from "vitest";
import { createShutdownSignal } from "../../src/server/shutdown-signal.js";

describe("shutdown signal", () => {
  it("calls each abort listener once, with the signal as this, and not after removal", () => {
    const { signal, abort } = createShutdownSignal();
    const calls: string[] = [];
    const a = function (this: AbortSignal) {
      calls.push(this === signal ? "a" : "a-wrong-this");
    };
    const b = () => calls.push("b");
    const c = { handleEvent: () => calls.push("c") };
    signal.addEventListener("abort", a);
    signal.addEventListener("abort", a);
    signal.addEventListener("abort", b);
    signal.addEventListener("abort", c);
    signal.removeEventListener("abort", b);
    abort();
    abort();
    expect(calls).toEqual(["a", "c"]);
    expect(signal.aborted).toBe(true);
  });

  it("keeps listening after a listener throws, and ignores listeners added once aborted", async () => {
    const { signal, abort } = createShutdownSignal();
    const calls: string[] = [];
    const uncaught = new Promise<unknown>((resolve) => process.once("uncaughtException", resolve));
    signal.addEventListener("abort", () => {
      throw new Error("boom");
    });
    signal.addEventListener("abort", () => calls.push("after"));
    abort();
    expect(calls).toEqual(["after"]);
    expect(await uncaught).toMatchObject({ message: "boom" });
    signal.addEventListener("abort", () => calls.push("late"));
    abort();
    expect(calls).toEqual(["after"]);
  });

  it("leaves other event types to the signal's own EventTarget", () => {
    const { signal } = createShutdownSignal();
    let seen = 0;
    const l = () => seen++;
    signal.addEventListener("custom", l);
    signal.dispatchEvent(new Event("custom"));
    signal.removeEventListener("custom", l);
    signal.dispatchEvent(new Event("custom"));
    expect(seen).toBe(1);
  });
});
