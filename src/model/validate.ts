import { InvalidArgumentError } from "./errors.js";

/**
 * Field validators shared by the domain. Each throws InvalidArgumentError
 * naming the field, so callers never have to build error messages themselves.
 */

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** An identifier: 1 to 128 characters of letters, digits and . _ : @ -. */
export function requireId(field: string, value: string): string {
  if (value === "") throw new InvalidArgumentError(field, "is required");
  if (value.length > 128) throw new InvalidArgumentError(field, "must be at most 128 characters");
  if (!ID.test(value)) {
    throw new InvalidArgumentError(field, "may contain only letters, digits and . _ : @ -, starting with a letter or digit");
  }
  return value;
}

/** Free text such as a name: required, bounded, no control characters. */
export function requireText(field: string, value: string, max = 253): string {
  if (value.trim() === "") throw new InvalidArgumentError(field, "is required");
  return optionalText(field, value, max);
}

/** Free text that may be empty. */
export function optionalText(field: string, value: string, max = 253): string {
  if (value.length > max) throw new InvalidArgumentError(field, `must be at most ${max} characters`);
  if (CONTROL.test(value)) throw new InvalidArgumentError(field, "must not contain control characters");
  return value;
}

/** Whether text is an IPv4 address. */
export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

function isIPv6(value: string): boolean {
  // Node's URL parser knows IPv6 exactly; a bracketed host is the cheapest way in.
  if (!value.includes(":")) return false;
  try {
    return new URL(`http://[${value}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * A network address: an IPv4 or IPv6 address or a host name, optionally with a
 * port ("10.0.0.1", "host.example:8080", "[::1]:7000", "::1"). Empty allowed.
 */
export function optionalAddress(field: string, value: string): string {
  if (value === "") return value;
  if (value.length > 261) throw new InvalidArgumentError(field, "must be at most 261 characters");
  let host = value;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2];
    if (!isIPv6(host)) throw new InvalidArgumentError(field, `"${value}" is not a valid address`);
  } else if (isIPv6(value)) {
    return value;
  } else {
    const colon = value.lastIndexOf(":");
    if (colon >= 0) {
      host = value.slice(0, colon);
      port = value.slice(colon + 1);
    }
    if (!isIPv4(host) && (!HOSTNAME.test(host) || /^[\d.]+$/.test(host))) {
      throw new InvalidArgumentError(field, `"${value}" is not a valid IP address or host name`);
    }
  }
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw new InvalidArgumentError(field, `port in "${value}" must be 1-65535`);
  }
  return value;
}

/** Labels: at most 64, keys like "zone" or "example.com/role", values bounded text. */
export function validateLabels(field: string, labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > 64) throw new InvalidArgumentError(field, "must have at most 64 entries");
  for (const [key, value] of entries) {
    if (key.length > 63 || !LABEL_KEY.test(key)) {
      throw new InvalidArgumentError(`${field}.${key}`, "key must be 1-63 letters, digits and . _ / -");
    }
    optionalText(`${field}.${key}`, value, 253);
  }
  return labels;
}

/** Short strings such as tags: at most 64 of at most 63 characters each. */
export function validateTags(field: string, tags: string[]): string[] {
  if (tags.length > 64) throw new InvalidArgumentError(field, "must have at most 64 entries");
  tags.forEach((tag, i) => {
    if (tag === "" || tag.length > 63 || !LABEL_KEY.test(tag)) {
      throw new InvalidArgumentError(`${field}[${i}]`, "must be 1-63 letters, digits and . _ / -");
    }
  });
  return [...new Set(tags)];
}

/** A finite number at or above zero (and at most max, when given). */
export function nonNegative(field: string, value: number, max?: number): number {
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(field, "must be a number at or above 0");
  if (max !== undefined && value > max) throw new InvalidArgumentError(field, `must be at most ${max}`);
  return value;
}

/** A TCP/UDP port map such as {"p2p": 7000}. */
export function validatePorts(field: string, ports: Record<string, number>): Record<string, number> {
  for (const [name, port] of Object.entries(ports)) {
    if (!LABEL_KEY.test(name) || name.length > 63) throw new InvalidArgumentError(`${field}.${name}`, "invalid port name");
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`${field}.${name}`, "must be 1-65535");
  }
  return ports;
}
