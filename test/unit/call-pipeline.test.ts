import { Code } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { SERVICES } from "../../src/app/app.js";
import { loadConfig } from "../../src/config/config.js";
import { AuditLog } from "../../src/managers/audit-log.js";
import { NodeRegistry } from "../../src/managers/node-registry.js";
import { TokenManager } from "../../src/managers/token-manager.js";
import type { AuditEvent } from "../../src/model/audit.js";
import { NotFoundError } from "../../src/model/errors.js";
import { accessPolicy } from "../../src/rpc/access-policy.js";
import { AuthFailures } from "../../src/rpc/auth-failures.js";
import { CallGuard } from "../../src/rpc/call-guard.js";
import { CallPipeline } from "../../src/rpc/call-pipeline.js";
import type { CallObserver } from "../../src/rpc/call-observer.js";
import { NodeState } from "../../src/state/node-state.js";
import { MemoryNodeStore } from "../fakes/memory-node-store.js";
import { MemoryTokenStore } from "../fakes/memory-token-store.js";

const LOOPBACK = () => ({ address: "127.0.0.1", certNames: undefined });

/** The server's pipeline over its real guard, in dev mode, with RPC_TIMEOUT at 50 ms; what it logs and audits. */
async function pipelineFor(observer?: CallObserver) {
  const lines: Array<{ level: number; msg: string; err?: { stack?: string } }> = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const config = loadConfig({ CAPSTAN_DEV: "1", RPC_TIMEOUT: "50ms" }, false);
  const tokens = new TokenManager(new MemoryTokenStore(), logger);
  const registry = new NodeRegistry({ store: new MemoryNodeStore(), state: new NodeState(), logger });
  const events: AuditEvent[] = [];
  const audit = new AuditLog({ append: async (batch) => void events.push(...batch), list: async () => events }, logger);
  const failures = new AuthFailures({ perWindow: 0, windowMs: 60_000 }, audit, logger);
  const guard = new CallGuard({ credentials: { tokens, registry, joinHash: undefined, auth: config.auth }, registry, tokens, audit, limits: config.limits, policy: accessPolicy(SERVICES), failures });
  return { pipeline: new CallPipeline(guard, logger, undefined, observer), lines, events, audit };
}

describe("the call pipeline every entry path passes", () => {
  it("runs a unary handler with the admitted caller, and logs its success at debug level with the request id", async () => {
    const { pipeline, lines } = await pipelineFor();
    const call = pipeline.begin("capstan.v1.NodeService/ListNodes", "req-1");
    await expect(call.unary({ header: new Headers(), peer: LOOPBACK, message: {} }, (principal) => principal.kind)).resolves.toBe("dev");
    call.succeeded();
    expect(lines.filter((l) => l.msg === "rpc done")).toEqual([expect.objectContaining({ level: 20, rpc: "capstan.v1.NodeService/ListNodes", requestId: "req-1" })]);
  });

  it("fails a handler past RPC_TIMEOUT with DeadlineExceeded, and audits a mutating call's outcome", async () => {
    const { pipeline, events, audit } = await pipelineFor();
    const call = pipeline.begin("capstan.v1.DeploymentService/CreateDeployment", undefined);
    const outcome = await call.unary({ header: new Headers(), peer: LOOPBACK, message: { deploymentId: "d-1" } }, () => new Promise(() => {})).catch((err: unknown) => call.failed(err));
    expect(outcome).toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "the call did not finish within 50 ms" });
    await audit.flush();
    expect(events).toEqual([expect.objectContaining({ rpc: "capstan.v1.DeploymentService/CreateDeployment", target: "d-1", outcome: "deadline_exceeded" })]);
  });

  it("maps failures once: a domain error to its code at debug level, anything else to Internal logged with its stack", async () => {
    const { pipeline, lines } = await pipelineFor();
    const call = pipeline.begin("capstan.v1.NodeService/GetNode", undefined);
    expect(call.failed(new NotFoundError("node", "n-1"))).toMatchObject({ code: Code.NotFound, rawMessage: 'node "n-1" not found' });
    expect(call.failed(new Error("disk on fire"))).toMatchObject({ code: Code.Internal, rawMessage: "internal error" });
    expect(lines.filter((l) => l.level >= 50)).toEqual([expect.objectContaining({ msg: "rpc failed unexpectedly", err: expect.objectContaining({ stack: expect.stringContaining("disk on fire") }) })]);
  });

  it("tells its observer of every call's end once, with the code it answers with", async () => {
    const ends: Array<[string, number]> = [];
    const { pipeline } = await pipelineFor((rpc, code, startedAt) => {
      expect(startedAt).toBeLessThanOrEqual(performance.now());
      ends.push([rpc, code]);
    });
    const ok = pipeline.begin("capstan.v1.NodeService/ListNodes", undefined);
    await ok.unary({ header: new Headers(), peer: LOOPBACK, message: {} }, () => "fine");
    ok.succeeded();
    const missing = pipeline.begin("capstan.v1.NodeService/GetNode", undefined);
    await missing.unary({ header: new Headers(), peer: LOOPBACK, message: {} }, () => Promise.reject(new NotFoundError("node", "n-1"))).catch((err: unknown) => missing.failed(err));
    const refused = pipeline.begin("capstan.v1.NodeService/ListNodes", undefined);
    await refused.unary({ header: new Headers({ authorization: "Bearer cap_nonsense" }), peer: LOOPBACK, message: {} }, () => "never").catch((err: unknown) => refused.failed(err));
    expect(ends).toEqual([
      ["capstan.v1.NodeService/ListNodes", 0],
      ["capstan.v1.NodeService/GetNode", Code.NotFound],
      ["capstan.v1.NodeService/ListNodes", Code.Unauthenticated],
    ]);
  });

  it("opens agent and public streams with a slot and no admission; other streams are admitted by the guard", async () => {
    const { pipeline } = await pipelineFor();
    expect(pipeline.begin("capstan.v1.AgentService/AgentStream", undefined).streamSlot(LOOPBACK)).toBeTypeOf("function");
    expect(pipeline.begin("grpc.health.v1.Health/Watch", undefined).streamSlot(LOOPBACK)).toBeTypeOf("function");
    const watch = pipeline.begin("capstan.v1.DeploymentService/WatchJob", undefined);
    expect(watch.streamSlot(LOOPBACK)).toBeUndefined();
    await expect(watch.admitStream(new Headers(), LOOPBACK)).resolves.toMatchObject({ principal: { kind: "dev" } });
    expect(pipeline.opensWithoutAdmission("capstan.v1.AgentService/AgentStream")).toBe(true);
    expect(pipeline.opensWithoutAdmission("capstan.v1.DeploymentService/WatchJob")).toBe(false);
  });
});
