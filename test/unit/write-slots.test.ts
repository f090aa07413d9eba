import { describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/model/errors.js";
import { StoreHealth } from "../../src/state/store-health.js";
import { writeSlots } from "../../src/store/write-slots.js";

/** A write that runs until the test ends it. */
function hanging(): { run: () => Promise<string>; end: () => void; started: () => boolean } {
  let end = () => {};
  let started = false;
  return {
    run: () => {
      started = true;
      return new Promise<string>((r) => (end = () => r("done")));
    },
    end: () => end(),
    started: () => started,
  };
}

const settled = <T>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }));
const tick = () => new Promise((r) => setImmediate(r));

describe("write slots", () => {
  it.each([
    { store: "ok", third: "waits for a slot, then runs" },
    { store: "failing", third: "is refused as Unavailable at once, without waiting" },
  ])("with both slots busy and the store $store, a third write $third", async ({ store }) => {
    const health = new StoreHealth();
    const slots = writeSlots(2, health);
    const [a, b] = [hanging(), hanging()];
    const first = slots(a.run);
    const second = slots(b.run);
    if (store === "failing") health.failing("connect ETIMEDOUT");
    let ran = false;
    const third = settled(
      slots(async () => {
        ran = true;
        return "third";
      }),
    );
    await tick();
    if (store === "ok") {
      expect(ran).toBe(false);
      a.end();
      expect(await third).toEqual({ ok: true, v: "third" });
    } else {
      const out = await third;
      expect(out.ok).toBe(false);
      expect(out.ok === false && out.e).toBeInstanceOf(StoreUnavailableError);
      expect(out.ok === false && (out.e as StoreUnavailableError).reason).toBe("connect ETIMEDOUT");
      expect(ran).toBe(false);
      a.end();
    }
    b.end();
    expect(await first).toBe("done");
    expect(await second).toBe("done");
  });

  it("refuses a queued write whose turn comes while the store fails, and still runs a write that finds a slot free", async () => {
    const health = new StoreHealth();
    const slots = writeSlots(1, health);
    const a = hanging();
    const first = slots(a.run);
    let ran = false;
    const queued = settled(slots(async () => void (ran = true)));
    await tick();
    expect(a.started()).toBe(true);
    health.failing("connection refused");
    a.end();
    await first;
    const out = await queued;
    expect(out.ok === false && out.e).toBeInstanceOf(StoreUnavailableError);
    expect(ran).toBe(false);
    // A free slot: the write tries (as the probe does), and the store is found back.
    const c = hanging();
    const probe = slots(c.run);
    await tick();
    expect(c.started()).toBe(true);
    c.end();
    expect(await probe).toBe("done");
  });
});
