import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

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
    [{ REPLICA_ID: "-starts-with-a-dash" }, "REPLICA_ID"],
    [{ REPLICA_ID: "has space" }, "REPLICA_ID"],
    [{ ADVERTISE_URL: "10.0.0.5:8080" }, "ADVERTISE_URL"],
    [{ ADVERTISE_URL: "ftp://10.0.0.5:8080" }, "ADVERTISE_URL"],
    [{ ADVERTISE_URL: "http://10.0.0.5:8080/capstan" }, "ADVERTISE_URL"],
    [{ DATABASE_URL: "postgresql://u:p@db/capstan" }, "CLUSTER_SECRET"],
    [{ DATABASE_URL: "postgres://u:p@db/capstan", CLUSTER_SECRET: "too-short" }, "CLUSTER_SECRET"],
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

  it("serves plain gRPC on the fast paths unless GRPC_FAST_PATHS turns them off", () => {
    expect(loadConfig({}, false).grpcFastPaths).toBe(true);
    expect(loadConfig({ GRPC_FAST_PATHS: "0" }, false).grpcFastPaths).toBe(false);
    expect(loadConfig({ GRPC_FAST_PATHS: "false" }, false).grpcFastPaths).toBe(false);
    expect(loadConfig({ GRPC_FAST_PATHS: "1" }, false).grpcFastPaths).toBe(true);
  });

  it("takes CLUSTER_SECRET with PostgreSQL, and needs none with SQLite", () => {
    expect(loadConfig({ DATABASE_URL: "postgresql://u:p@db/capstan", CLUSTER_SECRET: "s".repeat(32) }, false).clusterSecret).toBe("s".repeat(32));
    expect(loadConfig({ DATABASE_URL: "file:./data/c.db" }, false).clusterSecret).toBeUndefined();
  });

  it("names each replica by REPLICA_ID, by default after its host and process, and reads where it is reached", () => {
    const defaults = loadConfig({}, false);
    expect(defaults.replicaId).toMatch(new RegExp(`-${process.pid}$`));
    expect(defaults.advertiseUrl).toMatch(/^http:\/\/[^/]+:8080$/);
    const set = loadConfig({ REPLICA_ID: "cp-a.1", ADVERTISE_URL: "http://10.0.0.5:8080/" }, false);
    expect(set.replicaId).toBe("cp-a.1");
    expect(set.advertiseUrl).toBe("http://10.0.0.5:8080");
  });

  it.each([
    [{ REPLICA_ID: "has space" }, "REPLICA_ID"],
    [{ REPLICA_ID: "-leading-dash" }, "REPLICA_ID"],
    [{ REPLICA_ID: "x".repeat(64) }, "REPLICA_ID"],
    [{ ADVERTISE_URL: "capstan-1:8080" }, "ADVERTISE_URL"],
    [{ ADVERTISE_URL: "ftp://capstan-1" }, "ADVERTISE_URL"],
    [{ LEADER_LEASE: "6" }, "LEADER_LEASE"],
  ])("refuses replica settings %j, naming %s", (env, variable) => {
    expect(() => loadConfig(env, false)).toThrow(new RegExp(`^${variable}: `));
  });

  it("names the replica hostname-pid and advertises http://hostname:PORT unless told, with a 6 s leader lease", () => {
    const c = loadConfig({ PORT: "9000" }, false);
    expect(c.replicaId).toMatch(new RegExp(`-${process.pid}$`));
    expect(c.advertiseUrl).toMatch(/^http:\/\/[^/]+:9000$/);
    expect(c.leaderLeaseMs).toBe(6_000);
    const set = loadConfig({ REPLICA_ID: "capstan-2", ADVERTISE_URL: "http://capstan-2:8080", LEADER_LEASE: "2s" }, false);
    expect([set.replicaId, set.advertiseUrl, set.leaderLeaseMs]).toEqual(["capstan-2", "http://capstan-2:8080", 2_000]);
  });

  it("records Prometheus metrics unless METRICS turns them off, labelled with REPLICA_ID when set", () => {
    expect(loadConfig({}, false).metrics).toBe(true);
    expect(loadConfig({ METRICS: "off" }, false).metrics).toBe(false);
    expect(loadConfig({ METRICS: "0" }, false).metrics).toBe(false);
    expect(loadConfig({ METRICS: "on" }, false).metrics).toBe(true);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", PORT: "" }, false).port).toBe(8080);
  });
});

describe("security configuration", () => {
  const bad: Array<[string, Record<string, string>, string]> = [
    ["admin is never an anonymous scope", { CAPSTAN_ANONYMOUS_SCOPES: "read,admin" }, "CAPSTAN_ANONYMOUS_SCOPES"],
    ["an unknown anonymous scope", { CAPSTAN_ANONYMOUS_SCOPES: "everything" }, "CAPSTAN_ANONYMOUS_SCOPES"],
    ["a network that is not a CIDR", { CAPSTAN_ANONYMOUS_NETWORKS: "10.0.0.0/33" }, "CAPSTAN_ANONYMOUS_NETWORKS"],
    ["a network that is a name", { CAPSTAN_ANONYMOUS_NETWORKS: "intranet" }, "CAPSTAN_ANONYMOUS_NETWORKS"],
    ["a trusted proxy that is not a CIDR", { TRUSTED_PROXIES: "10.0.0.0/40" }, "TRUSTED_PROXIES"],
    ["a trusted proxy that is a name", { TRUSTED_PROXIES: "haproxy" }, "TRUSTED_PROXIES"],
    ["a short admin token", { CAPSTAN_ADMIN_TOKEN: "short" }, "CAPSTAN_ADMIN_TOKEN"],
    ["a client CA without TLS", { TLS_CLIENT_CA: "/etc/ca.pem" }, "TLS_CLIENT_CA"],
    ["a dev flag that is not a boolean", { CAPSTAN_DEV: "yes" }, "CAPSTAN_DEV"],
    ["a negative rate limit", { RATE_LIMIT: "-1" }, "RATE_LIMIT"],
    ["a tiny message limit", { MAX_MESSAGE_BYTES: "10" }, "MAX_MESSAGE_BYTES"],
    ["a fast-path switch that is not a boolean", { GRPC_FAST_PATHS: "off" }, "GRPC_FAST_PATHS"],
    ["a metrics switch that is not on or off", { METRICS: "maybe" }, "METRICS"],
    ["a replica id with a space", { REPLICA_ID: "cp 1" }, "REPLICA_ID"],
  ];
  it.each(bad)("refuses %s, naming the variable", (_name, env, variable) => {
    expect(() => loadConfig(env, false)).toThrow(new RegExp(`^${variable}: `));
  });

  it("trusts no proxy by default, and the listed ones when TRUSTED_PROXIES is set", () => {
    expect(loadConfig({}, false).trustedProxies).toBeUndefined();
    const c = loadConfig({ TRUSTED_PROXIES: "10.0.0.5, fd00::/64" }, false);
    expect(c.trustedProxies?.check("10.0.0.5")).toBe(true);
    expect(c.trustedProxies?.check("10.0.0.6")).toBe(false);
    expect(c.trustedProxies?.check("fd00::9", "ipv6")).toBe(true);
  });

  it("reads dev mode, anonymous grants and limits", () => {
    const c = loadConfig({ CAPSTAN_DEV: "1", CAPSTAN_ANONYMOUS_SCOPES: "read, node", CAPSTAN_ANONYMOUS_NETWORKS: "10.0.0.0/8, fd00::/8", RATE_LIMIT: "0" }, false);
    expect(c.auth.dev).toBe(true);
    expect([...c.auth.anonymousScopes]).toEqual(["read", "node"]);
    expect(c.auth.anonymousNetworks?.check("10.1.1.1")).toBe(true);
    expect(c.auth.anonymousNetworks?.check("fd00::1", "ipv6")).toBe(true);
    expect(c.auth.anonymousNetworks?.check("11.1.1.1")).toBe(false);
    expect(c.limits.ratePerSecond).toBe(0);
    expect(loadConfig({}, false).auth).toMatchObject({ dev: false, adminToken: undefined, clientCa: undefined });
  });
});

describe("messages for bad values", () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: "http" }, "PORT: must be a whole number from 0 to 65535"],
    [{ PORT: "80.5" }, "PORT: must be a whole number from 0 to 65535"],
    [{ PORT: "70000" }, "PORT: must be a whole number from 0 to 65535"],
    [{ HEARTBEAT_TTL: "soon" }, 'HEARTBEAT_TTL: "soon" is not a duration such as 15s, 500ms or 2m'],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent"],
    [{ PUBLIC_URL: "cp.example.com" }, "PUBLIC_URL: must be a URL such as https://cp.example.com"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL: must start with file:, postgresql:// or postgres://"],
    [{ CAPSTAN_JOIN_TOKEN: "short" }, "CAPSTAN_JOIN_TOKEN: must be at least 16 characters"],
  ];
  it.each(cases)("%j is refused with a message that says what is accepted", (env, message) => {
    expect(() => loadConfig(env, false)).toThrow(message);
  });
});
