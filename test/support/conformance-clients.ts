import { create, fromBinary, fromJson, toBinary, type DescMessage, type DescMethodBiDiStreaming, type JsonObject } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { AgentService, AgentStreamResponseSchema } from "../../gen/proto/capstan/v1/agent_service_pb.js";
import { ChunkIndexService, GetChunkLocationsResponseSchema } from "../../gen/proto/capstan/v1/chunk_index_service_pb.js";
import { AsyncQueue } from "../../src/shared/async-queue.js";

/**
 * One call as every conformance client makes it (the Python client reads the
 * same JSON): which method, in which shape, with which metadata and request
 * messages (proto JSON, or bytes no client would normally send), and what the
 * client does once the first answer came.
 */
export interface CallSpec {
  /** host:port */
  target: string;
  method: "GetChunkLocations" | "AgentStream";
  /** "client-stream" sends several messages to a unary method. */
  shape: "unary" | "client-stream" | "bidi";
  metadata: Record<string, string>;
  messages: Array<{ json: JsonObject } | { hex: string }>;
  /** Bidi: end the request side after the messages (otherwise it stays open, as an agent's does). */
  halfClose?: boolean;
  /** Bidi: once the first answer came, cancel, or report ready (onReady) and read on to the status. */
  after?: "status" | "cancel" | "ready";
  /** Unary: make the call up to this many times, stopping at the first failure. */
  repeat?: number;
  /** A client deadline (sends grpc-timeout). */
  timeoutMs?: number;
}

/** What a client saw: the status, its message, the metadata, and the kind of each message received. */
export interface CallResult {
  code: number;
  message: string;
  metadata: Record<string, string>;
  responses: string[];
}

/** A gRPC client implementation under test. */
export interface ConformanceClient {
  readonly name: string;
  call(spec: CallSpec, onReady?: () => Promise<void>): Promise<CallResult>;
  close(): Promise<void>;
}

const METHODS = {
  GetChunkLocations: { unary: ChunkIndexService.method.getChunkLocations, path: "/capstan.v1.ChunkIndexService/GetChunkLocations" },
  AgentStream: { bidi: AgentService.method.agentStream, path: "/capstan.v1.AgentService/AgentStream" },
} as const;

function inputOf(spec: CallSpec): DescMessage {
  return spec.method === "GetChunkLocations" ? METHODS.GetChunkLocations.unary.input : METHODS.AgentStream.bidi.input;
}

/** A message's bytes, from proto JSON or as given. */
export function encodeMessage(schema: DescMessage, m: CallSpec["messages"][number]): Buffer {
  return "hex" in m ? Buffer.from(m.hex, "hex") : Buffer.from(toBinary(schema, fromJson(schema, m.json)));
}

/**
 * A message that connect-es serializes to exactly `bytes`: its first tag and
 * the rest kept as an unknown field, which protobuf-es writes back as it is.
 * (connect-es has no raw serializer; grpc-js and grpcio are given one.)
 */
function rawMessage(schema: DescMessage, bytes: Buffer) {
  const reader = new BinaryReader(bytes);
  const [no, wireType] = reader.tag();
  const message = create(schema);
  message.$unknown = [{ no, wireType, data: bytes.subarray(reader.pos) }];
  return message;
}

/** What a response was: the location count of a lookup, the oneof case of a stream message (as the Python client says it). */
function kindOf(spec: CallSpec, bytes: Uint8Array): string {
  if (spec.method === "GetChunkLocations") return `locations:${fromBinary(GetChunkLocationsResponseSchema, bytes).locations.length}`;
  return fromBinary(AgentStreamResponseSchema, bytes).message.case ?? "";
}

// Transport fields every answer has; the comparison is about the call's own metadata.
const TRANSPORT_KEYS = new Set(["content-type", "grpc-status", "grpc-message", "date", "content-length", "grpc-accept-encoding", "grpc-encoding", "te", "user-agent"]);

/** Metadata as one record of strings (binary values base64), transport fields left out. */
export function callMetadata(entries: Iterable<[string, string | Buffer]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    const key = k.toLowerCase();
    if (!TRANSPORT_KEYS.has(key) && !key.startsWith(":")) out[key] = typeof v === "string" ? v : v.toString("base64");
  }
  return out;
}

/**
 * Calls carry no deadline (a grpc-timeout sends them to connect-node): a call
 * that no answer ends within this long is cancelled and reported as hung, so a
 * server that never ends a stream fails the case instead of stalling the suite.
 */
export const WATCHDOG_MS = 15_000;
const HUNG: CallResult = { code: -1, message: `no answer within ${WATCHDOG_MS / 1000} s`, metadata: {}, responses: [] };

/** Runs a call, cancelling it (through `cancel`) when it has not ended in time. */
async function watched(run: (cancelled: AbortSignal) => Promise<CallResult>): Promise<CallResult> {
  const watchdog = new AbortController();
  const timer = setTimeout(() => watchdog.abort(), WATCHDOG_MS);
  try {
    const result = await run(watchdog.signal);
    return watchdog.signal.aborted ? HUNG : result;
  } finally {
    clearTimeout(timer);
  }
}

/** connect-es' gRPC transport (@connectrpc/connect-node). */
export function connectEsClient(): ConformanceClient {
  return {
    name: "connect-es",
    call: (spec, onReady) => watched(async (watchdog) => {
      const transport = createGrpcTransport({ baseUrl: `http://${spec.target}` });
      const headers = new Headers(spec.metadata);
      const schema = inputOf(spec);
      const messages = spec.messages.map((m) => ("hex" in m ? rawMessage(schema, Buffer.from(m.hex, "hex")) : fromJson(schema, m.json)));
      const responses: string[] = [];
      const controller = new AbortController();
      const signal = AbortSignal.any([controller.signal, watchdog]);
      const fail = (e: unknown): CallResult => {
        const err = ConnectError.from(e);
        const metadata = callMetadata(err.metadata);
        if (err.details.length > 0) metadata["details"] = err.details.map((d) => ("desc" in d ? d.desc.typeName : d.type)).join(",");
        return { code: err.code, message: err.rawMessage, metadata, responses };
      };
      try {
        if (spec.shape === "unary") {
          const client = createClient(ChunkIndexService, transport);
          let trailer = new Headers();
          for (let i = 0; i < (spec.repeat ?? 1); i++) {
            responses.length = 0;
            const out = await client.getChunkLocations(messages[0] as never, { headers, signal, timeoutMs: spec.timeoutMs, onTrailer: (t) => (trailer = t) });
            responses.push(kindOf(spec, toBinary(GetChunkLocationsResponseSchema, out)));
          }
          return { code: 0, message: "", metadata: callMetadata(trailer), responses };
        }
        if (spec.shape === "client-stream") {
          const method = { ...METHODS.GetChunkLocations.unary, methodKind: "client_streaming" } as unknown as DescMethodBiDiStreaming;
          const res = await transport.stream(method, signal, spec.timeoutMs, headers, (async function* () {
            yield* messages;
          })(), undefined);
          for await (const m of res.message) responses.push(kindOf(spec, toBinary(GetChunkLocationsResponseSchema, m as never)));
          return { code: 0, message: "", metadata: callMetadata(res.trailer), responses };
        }
        const outbox = new AsyncQueue<(typeof messages)[number]>();
        for (const m of messages) outbox.push(m);
        if (spec.halfClose) outbox.end();
        let trailer = new Headers();
        try {
          const stream = createClient(AgentService, transport).agentStream(outbox as never, {
            headers, signal, timeoutMs: spec.timeoutMs, onTrailer: (t) => (trailer = t),
          });
          for await (const m of stream) {
            responses.push(kindOf(spec, toBinary(AgentStreamResponseSchema, m)));
            if (responses.length === 1 && spec.after === "cancel") controller.abort();
            if (responses.length === 1 && spec.after === "ready") await onReady?.();
          }
          return { code: 0, message: "", metadata: callMetadata(trailer), responses };
        } finally {
          outbox.end();
        }
      } catch (e) {
        return fail(e);
      }
    }),
    close: async () => {},
  };
}

/** @grpc/grpc-js, with identity serializers (the bytes are made as for the other clients). */
export function grpcJsClient(): ConformanceClient {
  const clients = new Map<string, grpc.Client>();
  const clientFor = (target: string) => {
    let c = clients.get(target);
    if (!c) clients.set(target, (c = new grpc.Client(target, grpc.credentials.createInsecure())));
    return c;
  };
  const same = (b: Buffer) => b;
  return {
    name: "grpc-js",
    call: (spec, onReady) => watched((watchdog) => {
      const client = clientFor(spec.target);
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(spec.metadata)) metadata.set(k, v);
      const options: grpc.CallOptions = spec.timeoutMs ? { deadline: Date.now() + spec.timeoutMs } : {};
      const bodies = spec.messages.map((m) => encodeMessage(inputOf(spec), m));
      const path = METHODS[spec.method].path;
      const responses: string[] = [];
      const result = (s: grpc.StatusObject): CallResult => ({
        code: s.code, message: s.details, metadata: callMetadata(Object.entries(s.metadata.getMap()) as Array<[string, string | Buffer]>), responses,
      });
      if (spec.shape === "unary") {
        return (async () => {
          let last: CallResult | undefined;
          for (let i = 0; i < (spec.repeat ?? 1); i++) {
            responses.length = 0;
            last = await new Promise<CallResult>((resolve) => {
              const call = client.makeUnaryRequest(path, same, same, bodies[0], metadata, options, (_err, out) => {
                if (out) responses.push(kindOf(spec, out));
              });
              watchdog.addEventListener("abort", () => call.cancel());
              call.on("status", (s) => setImmediate(() => resolve(result(s))));
            });
            if (last.code !== 0) break;
          }
          return last!;
        })();
      }
      if (spec.shape === "client-stream") {
        return new Promise((resolve) => {
          const call = client.makeClientStreamRequest(path, same, same, metadata, options, (_err, out) => {
            if (out) responses.push(kindOf(spec, out));
          });
          watchdog.addEventListener("abort", () => call.cancel());
          call.on("status", (s) => setImmediate(() => resolve(result(s))));
          for (const b of bodies) call.write(b);
          call.end();
        });
      }
      return new Promise((resolve) => {
        const call = client.makeBidiStreamRequest(path, same, same, metadata, options);
        watchdog.addEventListener("abort", () => call.cancel());
        call.on("error", () => {});
        call.on("data", (b: Buffer) => {
          responses.push(kindOf(spec, b));
          if (responses.length === 1 && spec.after === "cancel") call.cancel();
          if (responses.length === 1 && spec.after === "ready") void onReady?.();
        });
        call.on("status", (s) => resolve(result(s)));
        for (const b of bodies) call.write(b);
        if (spec.halfClose) call.end();
      });
    }),
    close: async () => {
      for (const c of clients.values()) c.close();
    },
  };
}

/**
 * Generates Python stubs for every proto of the contract with Debian's protoc
 * and grpc_python_plugin into a new temporary directory (put it on PYTHONPATH;
 * remove it when done). Throws when they are missing.
 */
export function pythonStubs(): string {
  const stubs = mkdtempSync(join(tmpdir(), "capstan-py-stubs-"));
  const protos = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? protos(join(dir, e.name)) : e.name.endsWith(".proto") ? [join(dir, e.name)] : []));
  const api = "node_modules/google-proto-files/google/api";
  const gen = spawnSync("/usr/bin/protoc", [
    "-I", "proto", "-I", "node_modules/google-proto-files", `--python_out=${stubs}`, `--grpc_out=${stubs}`, "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
    ...protos("proto"), ...readdirSync(api).filter((f) => f.endsWith(".proto")).map((f) => join(api, f)),
  ], { encoding: "utf8" });
  if (gen.status !== 0) throw new Error(`protoc could not generate the Python stubs (scripts/ci/python-grpc.sh installs it): ${gen.stderr || gen.error}`);
  return stubs;
}

/**
 * Python grpcio (Debian's python3-grpcio, run by /usr/bin/python3: another
 * python3 may come first on PATH) with stubs generated from proto/ by Debian's
 * protoc and grpc_python_plugin into a temporary directory.
 */
export function pythonClient(): ConformanceClient {
  const stubs = pythonStubs();
  const child: ChildProcessWithoutNullStreams = spawn("/usr/bin/python3", ["test/support/grpc-python-client.py"], {
    env: { ...process.env, PYTHONPATH: stubs, PYTHONUNBUFFERED: "1" },
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const lines = new AsyncQueue<string>();
  createInterface({ input: child.stdout }).on("line", (l) => lines.push(l)).on("close", () => lines.end());
  let queue: Promise<unknown> = Promise.resolve();
  return {
    name: "python grpcio",
    call(spec, onReady) {
      const run = async (): Promise<CallResult> => {
        child.stdin.write(`${JSON.stringify(spec)}\n`);
        for (;;) {
          const line = await lines.next();
          if (line.done) throw new Error(`the Python client stopped: ${stderr}`);
          const out = JSON.parse(line.value) as (CallResult & { event?: undefined }) | { event: "ready" };
          if (out.event === "ready") {
            await onReady?.();
            continue;
          }
          return { code: out.code, message: out.message, metadata: callMetadata(Object.entries(out.metadata)), responses: out.responses };
        }
      };
      const next = queue.then(run, run);
      queue = next.catch(() => {});
      return next;
    },
    close: async () => {
      child.stdin.end();
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once("exit", resolve)));
      rmSync(stubs, { recursive: true, force: true });
    },
  };
}
