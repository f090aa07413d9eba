import { createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { NodeService } from "../../gen/proto/capstan/v1/node_service_pb.js";
import { SystemService } from "../../gen/proto/capstan/v1/system_service_pb.js";
import { wireApp } from "../../src/app/build-app.js";
import { loadConfig } from "../../src/config/config.js";
import { memoryStores } from "../fakes/memory-stores.js";
import { RecordingSession } from "../fakes/recording-session.js";
import { startRouterApp, type RouterApp } from "../support/router-app.js";

const config = (env: Record<string, string> = {}) => loadConfig({ CAPSTAN_DEV: "0", ...env }, false);

describe("the build step (wireApp over memory stores)", () => {
  let r: RouterApp | undefined;
  afterEach(async () => {
    await r?.stop();
    r = undefined;
  });

  it("reports health from the parts it wired: the stores' provider and the attached agents", async () => {
    r = await startRouterApp();
    const system = createClient(SystemService, r.transport);
    r.app.sessions.attach(new RecordingSession("n1"));
    expect(await system.getHealth({})).toMatchObject({ status: "healthy", databaseProvider: "memory", connectedAgents: 1 });
    // Liveness stays an answer when the database does not answer: reads are still served from memory.
    await r.app.db.close();
    expect(await system.getHealth({})).toMatchObject({ status: "degraded", database: "unavailable", databaseError: "the database does not answer" });
  });

  it("stop() flushes the audit trail before closing the stores, and a second stop() does nothing more", async () => {
    r = await startRouterApp();
    await createClient(NodeService, r.transport).registerNode({ name: "worker-01" });
    await r.stop();
    const events = r.app.db.audit.events.map((e) => [e.rpc, e.outcome]);
    expect(events).toEqual([["capstan.v1.NodeService/RegisterNode", "ok"]]);
    expect(r.app.db.closed).toBe(true);
    await r.stop();
    expect(r.app.db.audit.events).toHaveLength(1);
  });

  it("closes the stores when wiring fails, and the error reaches the caller", async () => {
    const stores = memoryStores();
    stores.nodes.failNext = new Error("disk gone");
    await expect(wireApp(stores, config(), pino({ level: "silent" }))).rejects.toThrow("disk gone");
    expect(stores.closed).toBe(true);
  });

  it("shows a bootstrap admin token to the operator once, outside the logs, when no token exists", async () => {
    const logs: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(line) });
    const announced: string[] = [];
    const stores = memoryStores();
    const app = await wireApp(stores, config(), logger, { announce: (line) => void announced.push(line) });
    await app.stop();
    expect(announced).toHaveLength(1);
    const secret = /: (cap_\S+)$/.exec(announced[0] ?? "")?.[1];
    expect(secret).toBeDefined();
    expect(logs.join("\n")).not.toContain(secret);
    // The token is stored (hashed), so the next start has one and announces nothing.
    const again: string[] = [];
    const restarted = await wireApp({ ...memoryStores(), tokens: stores.tokens }, config(), logger, { announce: (line) => void again.push(line) });
    await restarted.stop();
    expect(again).toEqual([]);
  });
});
