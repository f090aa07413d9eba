import { readFileSync } from "node:fs";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { UsageError } from "./errors.js";
import type { Target } from "./context.js";

/** Clients of the contract's services over one transport. */
export interface Clients {
  of<S extends DescService>(service: S): Client<S>;
}

/**
 * A transport to the target: gRPC over HTTP/2 (as the agent speaks), or the
 * Connect protocol over HTTP/1.1 (through proxies that only speak HTTP/1.1),
 * with the bearer token on every call and the TLS files the agent accepts.
 */
export function createTransport(target: Target): Transport {
  const interceptors: Interceptor[] = [];
  if (target.token) {
    const auth = `Bearer ${target.token}`;
    interceptors.push((next) => (req) => {
      req.header.set("authorization", auth);
      return next(req);
    });
  }
  if (!target.cert !== !target.key) throw new UsageError(`${target.cert ? "--key" : "--cert"}: --cert and --key go together`);
  const tls = {
    ...(target.ca ? { ca: readPem("--ca", target.ca) } : {}),
    ...(target.cert && target.key ? { cert: readPem("--cert", target.cert), key: readPem("--key", target.key) } : {}),
  };
  const nodeOptions = Object.keys(tls).length > 0 ? tls : undefined;
  if (target.protocol === "connect") {
    return createConnectTransport({ baseUrl: target.server, httpVersion: "1.1", interceptors, nodeOptions });
  }
  return createGrpcTransport({ baseUrl: target.server, interceptors, nodeOptions });
}

/** Clients over a transport, one per service on demand. */
export function clientsOver(transport: Transport): Clients {
  return { of: (service) => createClient(service, transport) };
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
}
