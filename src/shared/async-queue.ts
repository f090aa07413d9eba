/**
 * An unbounded async queue: producers push, one consumer iterates. Ending it
 * (optionally with an error) finishes the iteration once the queue drains.
 * It bridges callbacks (commands arriving for a session) and the async
 * iterables Connect streams are written as.
 */
export class AsyncQueue<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failer: ((err: unknown) => void) | undefined;
  private ended = false;
  private error: unknown;

  /** Adds an item; false when the queue has ended. */
  push(item: T): boolean {
    if (this.ended) return false;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = this.failer = undefined;
      waiter({ value: item, done: false });
    } else {
      this.items.push(item);
    }
    return true;
  }

  /** Ends the queue; the consumer sees the remaining items, then the end (or the error). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    const { waiter, failer } = this;
    this.waiter = this.failer = undefined;
    if (error !== undefined) failer?.(error);
    else waiter?.({ value: undefined, done: true });
  }

  /** Items pushed and not yet taken. */
  get size(): number {
    return this.items.length;
  }

  /** Whether end() was called. */
  get closed(): boolean {
    return this.ended;
  }

  /**
   * The queue is its own iterator (one consumer), so an open stream holds no
   * iterator object and closures besides the queue.
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }

  /** The next item, waiting for one; the end once ended and drained. */
  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.ended) {
      return this.error !== undefined ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  /** The consumer stops early: ends the queue and drops what is left. */
  return(): Promise<IteratorResult<T>> {
    this.end();
    this.items.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The consumer fails: ends the queue, drops what is left, rejects with err. */
  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.end();
    this.items.length = 0;
    return Promise.reject(err);
  }
}
