import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const scratch = mkdtempSync(join(tmpdir(), "capstan-bench-"));

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} failed: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** Requests/s of a Connect JSON POST over HTTP/1.1, measured with wrk. */
export async function wrkPost(url: string, body: string, seconds: number, connections = 32, headers: Record<string, string> = {}): Promise<number> {
  const script = join(scratch, `post-${Math.random().toString(36).slice(2)}.lua`);
  const extra = Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join("");
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n${extra}`);
  const out = await run("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "-s", script, url]);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} error responses from ${url}`);
  if (!m) throw new Error(`cannot read wrk output:\n${out}`);
  return Number(m[1]);
}

/** A gRPC request body: the 5-byte length prefix, then the protobuf message (the server's own framing). */
export { grpcFrame } from "../src/rpc/grpc-frames.js";

/** Requests/s of a gRPC unary call over h2c, measured with h2load. */
export async function h2loadGrpc(url: string, frame: Buffer, requests: number, connections = 8, streams = 16, headers: Record<string, string> = {}): Promise<number> {
  const file = join(scratch, `grpc-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(file, frame);
  const out = await run("h2load", [
    "-n", String(requests), "-c", String(connections), "-m", String(streams), "-d", file,
    "-H", "content-type: application/grpc", "-H", "te: trailers",
    ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    url,
  ]);
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const status = /status codes: (\d+) 2xx/.exec(out);
  if (!m || !status || Number(status[1]) !== requests) throw new Error(`h2load did not complete cleanly:\n${out}`);
  return Number(m[1]);
}
