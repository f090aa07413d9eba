import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { clientsOver, createTransport, type Clients } from "./client.js";
import { resolveTarget, type GlobalOptions, type Target } from "./context.js";
import { UsageError } from "./errors.js";
import { messageJson, outputFormat, serialize, type OutputFormat } from "./output.js";

/** Where a command writes; the process's streams, or a test's buffers. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** What an action gets: clients of the target, the output format, and printers. */
export interface Ctx {
  io: Io;
  format: OutputFormat;
  /** The global options as given (flags only; see target() for the resolved ones). */
  globals: GlobalOptions;
  target: () => Promise<Target>;
  clients: () => Promise<Clients>;
  /** Prints a response: the table (or text) for humans, else the message's API JSON as JSON or YAML. */
  show<D extends DescMessage>(schema: D, message: MessageShape<D>, human: () => string): void;
  /** Prints a plain value (several messages' JSON) for -o json/yaml, or the human text. */
  showValue(value: unknown, human: () => string): void;
}

/**
 * Wraps an action: builds its Ctx from the global options (commander passes
 * the Command last), so each command's code is only its calls and its output.
 */
export function action<A extends unknown[]>(io: Io, fn: (ctx: Ctx, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const opts = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    const format = outputFormat(opts.output);
    let target: Promise<Target> | undefined;
    let clients: Promise<Clients> | undefined;
    const ctx: Ctx = {
      io,
      format,
      globals: opts,
      target: () => (target ??= resolveTarget(opts, io.env)),
      clients: () => (clients ??= ctx.target().then((t) => clientsOver(createTransport(t)))),
      show(schema, message, human) {
        io.out(format === "table" ? human() : serialize(messageJson(schema, message), format));
      },
      showValue(value, human) {
        io.out(format === "table" ? human() : serialize(value, format));
      },
    };
    await fn(ctx, ...(args.slice(0, -1) as A));
  };
}

/** Collects a repeatable flag's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses repeated K=V flags into a map, naming the flag on a malformed one. */
export function keyValues(flag: string, items: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag}: "${item}" is not KEY=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** A positive integer flag. */
export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: "${text}" is not a positive integer`);
  return n;
}

/**
 * Every item of a paged list: asks for the largest pages the server gives
 * until it returns no next_page_token, and answers the last response with
 * all the items in it (so -o json prints one complete list).
 */
export async function allPages<R extends { nextPageToken: string }, T>(
  fetch: (pageToken: string) => Promise<R>,
  items: (r: R) => T[],
  setItems: (r: R, all: T[]) => void,
): Promise<R> {
  const all: T[] = [];
  let page = await fetch("");
  all.push(...items(page));
  while (page.nextPageToken) {
    page = await fetch(page.nextPageToken);
    all.push(...items(page));
  }
  setItems(page, all);
  return page;
}
