import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { isIP } from "node:net";

/** What the screen is told about the server's own names and its browser callers. */
export interface ScreenOptions {
  /** ALLOWED_HOSTS: extra names (`cp.example.com`), suffixes (`.example.com`), or `*` for any. */
  allowedHosts: readonly string[];
  /** Names the server is known by besides the defaults: the listen address, PUBLIC_URL's host, the machine's hostname. */
  ownNames: readonly string[];
  /** CORS_ORIGINS: origins allowed to call from a browser page, or `*`. */
  corsOrigins: readonly string[];
  /** The server speaks TLS only: a rebound name fails the certificate check in the browser. */
  tls: boolean;
}

/** Why a request was turned away before any handler saw it. */
export interface Refusal {
  status: 403;
  code: "permission_denied";
  message: string;
}

/** Reserved or local-only suffixes: public DNS cannot hand these to an attacker's page. */
const LOCAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa"];
const MAX_REMEMBERED = 1024;

/**
 * Turns away requests a web page could make on a victim's behalf, the way
 * dev servers and Jupyter do:
 *  - DNS rebinding: the `Host` must be a name this server answers to (an IP
 *    literal, a single-label or local-only name, a configured name). Only where
 *    rebinding can gain anything: over plaintext (a rebound name fails TLS's
 *    certificate check), and without a credential header (a page has no valid
 *    token, and a bad one is Unauthenticated, never token-less standing);
 *  - cross-site calls: an `Origin` must be the server's own, or listed in
 *    CORS_ORIGINS.
 * Non-browser clients (agents, CLIs, gRPC) send no Origin and a Host naming
 * the server, so they pass unchanged.
 */
export function createRequestScreen(options: ScreenOptions): (req: IncomingMessage | Http2ServerRequest) => Refusal | undefined {
  const anyHost = options.allowedHosts.includes("*");
  const exact = new Set([...options.allowedHosts, ...options.ownNames].filter((h) => !h.startsWith(".")).map(normalize));
  const suffixes = [...LOCAL_SUFFIXES, ...options.allowedHosts.filter((h) => h.startsWith(".")).map(normalize)];
  const anyOrigin = options.corsOrigins.includes("*");
  const origins = new Set(options.corsOrigins);
  // Hosts seen to pass: every request asks, and agents send the same few.
  const known = new Set<string>();

  function hostAllowed(hostHeader: string): boolean {
    if (anyHost || known.has(hostHeader)) return true;
    const name = hostName(hostHeader);
    const ok =
      name !== undefined &&
      (isIP(name) !== 0 || !name.includes(".") || exact.has(name) || suffixes.some((s) => name.endsWith(s) || name === s.slice(1)));
    if (ok && known.size < MAX_REMEMBERED) known.add(hostHeader);
    return ok;
  }

  return (req) => {
    const host = headerOf(req, "host") ?? headerOf(req, ":authority");
    const credentialed = req.headers.authorization !== undefined || req.headers["x-capstan-node-token"] !== undefined;
    if (!options.tls && !credentialed && host !== undefined && !hostAllowed(host)) {
      return {
        status: 403,
        code: "permission_denied",
        message: `this server does not answer to the host "${host.slice(0, 100)}" (a DNS rebinding guard); add it to ALLOWED_HOSTS`,
      };
    }
    const origin = headerOf(req, "origin");
    if (origin === undefined || anyOrigin || origins.has(origin)) return undefined;
    const forwarded = headerOf(req, "x-forwarded-host");
    if (origin !== "null" && host !== undefined && (sameHost(origin, host) || (forwarded !== undefined && sameHost(origin, forwarded)))) return undefined;
    return {
      status: 403,
      code: "permission_denied",
      message: `calls from pages of the origin "${origin.slice(0, 100)}" are refused; list it in CORS_ORIGINS to allow them`,
    };
  };
}

function headerOf(req: IncomingMessage | Http2ServerRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
}

function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** The name in a Host header ("[::1]:8080" → "::1", "Example.COM.:80" → "example.com"); undefined when unreadable. */
export function hostName(host: string): string | undefined {
  const text = host.trim().toLowerCase();
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    return end > 0 ? text.slice(1, end) : undefined;
  }
  // A bare IPv6 address (no brackets, no port) has several colons.
  if (text.split(":").length > 2) return isIP(text) === 6 ? text : undefined;
  const name = normalize(text.replace(/:\d*$/, ""));
  return /^[a-z0-9_.-]+$/.test(name) ? name : undefined;
}

/** Whether an Origin ("https://cp.example:8443") is on the host in a Host header ("cp.example:8443"). */
function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}
