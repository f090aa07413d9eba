import { describe, expect, it } from "vitest";
import { SessionRegistry } from "../../src/sessions/session-registry.js";
import { RecordingSession } from "../fakes/recording-session.js";

describe("SessionRegistry", () => {
  it("keeps one live session per node: a newer one replaces and closes the older", () => {
    const reg = new SessionRegistry();
    const detached: string[] = [];
    reg.onDetach((s) => detached.push(s.id));
    const old = new RecordingSession("n1");
    const fresh = new RecordingSession("n1");
    reg.attach(old);
    reg.attach(fresh);
    expect(reg.get("n1")).toBe(fresh);
    expect(old.closed).toMatch(/replaced/);
    expect(detached).toEqual([old.id]);
    // The old stream ending later must not take the new one down.
    reg.detach(old);
    expect(reg.get("n1")).toBe(fresh);
    expect(reg.size).toBe(1);
    reg.detach(fresh);
    expect(reg.isConnected("n1")).toBe(false);
  });
});
