import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("configuration", () => {
  it("defaults to port 8080, embedded SQLite, a 15 s heartbeat TTL and JSON logs off a terminal", () => {
    const c = loadConfig({}, false);
    expect(c.port).toBe(8080);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.heartbeatTtlMs).toBe(15_000);
    expect(c.logPretty).toBe(false);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ HEARTBEAT_TTL: "15" }, "HEARTBEAT_TTL"],
    [{ HEARTBEAT_TTL: "0s" }, "HEARTBEAT_TTL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ TLS_CERT: "/tmp/cert.pem" }, "TLS_KEY"],
    [{ TLS_CERT: "/nonexistent.pem", TLS_KEY: "/nonexistent.key" }, "TLS_CERT"],
    [{ CAPSTAN_JOIN_TOKEN: "short" }, "CAPSTAN_JOIN_TOKEN"],
    [{ PUBLIC_URL: "not a url" }, "PUBLIC_URL"],
  ])("rejects %j naming %s", (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env, false);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message.startsWith(`${variable}: `)).toBe(true);
  });

  it("parses durations and accepts seed 002's AGENT_SECRET_TOKEN as the join token", () => {
    const c = loadConfig({ HEARTBEAT_TTL: "500ms", AGENT_SECRET_TOKEN: "0123456789abcdef" }, false);
    expect(c.heartbeatTtlMs).toBe(500);
    expect(c.joinToken).toBe("0123456789abcdef");
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", PORT: "" }, false).port).toBe(8080);
  });
});
