import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ValidationError } from "../model/errors.js";
import { toConnectError } from "../rpc/error-mapping.js";

/**
 * Where the seed systems spell the same thing differently, REST accepts every
 * documented spelling and answers in one canonical shape that also carries
 * the fields each seed's clients read. Keyed by message type, never by path.
 */

type InputAlias = (json: JsonObject) => JsonObject;
type OutputAlias = (json: JsonObject) => void;

function rename(json: JsonObject, from: string, to: string): void {
  if (from in json && !(to in json)) json[to] = json[from];
  delete json[from];
}

/** Request aliases, applied before protobuf's strict JSON parser. */
export const inputAliases: Record<string, InputAlias> = {
  // Seed 000: {id, hostname, capabilities: ["docker"], status}; seed 001: {name, ip,
  // capabilities: {...}}; seed 004: {node_id, address, p2p_port, http_port,
  // memory_capacity_mb, disk_capacity_mb, available_chunks}.
  "capstan.v1.RegisterNodeRequest": (input) => {
    const json: JsonObject = { ...input };
    rename(json, "id", "node_id");
    rename(json, "hostname", "name");
    rename(json, "ip", "address");
    // Status is derived from heartbeats; seed 000 sends "active".
    delete json.status;
    if (Array.isArray(json.capabilities)) {
      json.tags = [...((json.tags as JsonValue[] | undefined) ?? []), ...json.capabilities];
      delete json.capabilities;
    }
    const ports: JsonObject = { ...((json.ports as JsonObject | undefined) ?? {}) };
    for (const [field, name] of [["p2p_port", "p2p"], ["http_port", "http"]] as const) {
      if (field in json) {
        ports[name] = json[field];
        delete json[field];
      }
    }
    if (Object.keys(ports).length) json.ports = ports;
    const caps: JsonObject = { ...((json.capabilities as JsonObject | undefined) ?? {}) };
    for (const [field, name] of [["memory_capacity_mb", "mem_mb"], ["disk_capacity_mb", "disk_mb"]] as const) {
      if (field in json) {
        caps[name] = json[field];
        delete json[field];
      }
    }
    if (Object.keys(caps).length) json.capabilities = caps;
    return json;
  },
};

// Seed 003: a service runs at least one replica (Orion refuses `replicas: 0`). In the
// contract 0 means "not given", so 1 (proto3 numbers carry no presence, and giving
// the field presence would break generated clients); only a JSON document, where an
// explicit 0 can be seen, is refused.
inputAliases["capstan.v1.ApplyRequest"] = (json) => {
  const services = (json.spec as JsonObject | undefined)?.services;
  if (!Array.isArray(services)) return json;
  const issues = services.flatMap((s, i) =>
    s !== null && typeof s === "object" && !Array.isArray(s) && s.replicas === 0
      ? [{ path: `spec.services[${i}].replicas`, message: "must be at least 1 (leave it out for 1)" }]
      : [],
  );
  if (issues.length) throw toConnectError(new ValidationError("Invalid configuration", issues)).error;
  return json;
};

/** Response aliases, applied to every message of the type in a snake_case answer. */
export const outputAliases: Record<string, OutputAlias> = {
  "capstan.v1.Node": (json) => {
    json.node_id = json.id;
    json.hostname = json.name;
    json.ip = json.address;
    const last = json.last_heartbeat;
    json.last_seen = typeof last === "string" ? Date.parse(last) / 1000 : null;
    const ports = (json.ports as JsonObject | undefined) ?? {};
    if (ports.p2p !== undefined) json.p2p_port = ports.p2p;
    if (ports.http !== undefined) json.http_port = ports.http;
    const caps = (json.capabilities as JsonObject | undefined) ?? {};
    json.memory_capacity_mb = caps.mem_mb ?? 0;
    json.disk_capacity_mb = caps.disk_mb ?? 0;
  },
};
