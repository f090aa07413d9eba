import { AsyncLocalStorage } from "node:async_hooks";

/** The request header a read names the change index it must see with (Nomad's ?index=). */
export const MIN_INDEX_HEADER = "capstan-min-index";
/** The response header that carries the change index a call's answer reflects. */
export const INDEX_HEADER = "capstan-index";

/**
 * Which change index the writes of the current call reached: each call runs
 * in its own scope (run), and the database notes the last seq of each
 * commit made inside it (noteWrite), however deep in the call that commit
 * happened. One instance per app, made in the composition root.
 */
export class WriteIndexScope {
  private readonly storage = new AsyncLocalStorage<{ index: number }>();

  /** Runs `fn` in a fresh scope; `written()` inside it reads what its commits reached. */
  run<T>(fn: () => T): { result: T; written: () => number } {
    const cell = { index: 0 };
    const result = this.storage.run(cell, fn);
    return { result, written: () => cell.index };
  }

  /** A commit reached `seq`: the enclosing call's answer reflects it. */
  noteWrite(seq: number): void {
    const cell = this.storage.getStore();
    if (cell && seq > cell.index) cell.index = seq;
  }
}

/**
 * Parses a Capstan-Min-Index header (or REST ?index=): a non-negative
 * integer; absent or empty is 0. Returns undefined for anything else.
 */
export function parseIndex(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined || text === "") return 0;
  if (!/^\d{1,15}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}
