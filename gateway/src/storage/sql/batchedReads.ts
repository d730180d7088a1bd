/**
 * Point reads by key that arrive in the same turn of the event loop, coalesced into one query
 * (`… WHERE key IN (?, ?, …)`). When hundreds of phones register or clients log in at once,
 * each cold lookup would otherwise be its own round trip through the pool; on PostgreSQL the
 * per-statement cost, not the rows, is what limits the rate. A "read" may also remove what it
 * returns (DELETE … RETURNING), with `shared: false`.
 *
 * At most `maxInFlight` queries run at once; keys asked for meanwhile wait and go out together
 * when one ends (as Nagle's algorithm does for small packets): an idle gateway reads at once,
 * a loaded one sends fewer, larger statements instead of queueing more of them.
 */

export interface BatchedReadsOptions<K extends string, A, V> {
  /**
   * Loads the rows of `keys` (distinct, at most `maxBatch`) in one query. `args` are the
   * callers' extra arguments, one per key in the same order (each key's first caller's).
   */
  load(keys: K[], args: A[]): Promise<Map<K, V>>;
  /** Most keys in one query. */
  maxBatch?: number;
  /** Most queries running at once. */
  maxInFlight?: number;
  /**
   * A key asked for twice in one batch: every caller gets its row (true, reads), or only the
   * first does and the others get nothing (false, for takes that remove what they return).
   */
  shared?: boolean;
}

interface Waiter<V> {
  resolve(value: V | undefined): void;
  reject(err: unknown): void;
}

export class BatchedReads<K extends string, A, V> {
  readonly #load: BatchedReadsOptions<K, A, V>['load'];
  readonly #maxBatch: number;
  readonly #shared: boolean;
  readonly #maxInFlight: number;
  #pending = new Map<K, { arg: A; waiters: Array<Waiter<V>> }>();
  #scheduled = false;
  #inFlight = 0;

  constructor(options: BatchedReadsOptions<K, A, V>) {
    this.#load = options.load;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#shared = options.shared ?? true;
    this.#maxInFlight = options.maxInFlight ?? 1;
  }

  /** The row of `key`, from the next batch; callers asking for one key together share one read. */
  get(key: K, arg: A): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      let entry = this.#pending.get(key);
      if (!entry) {
        entry = { arg, waiters: [] };
        this.#pending.set(key, entry);
      }
      entry.waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || !this.#pending.size) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: the reads of every socket that became readable in this
    // poll of the event loop join one batch.
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#pending.size && this.#inFlight < this.#maxInFlight) {
      const chunk: Array<[K, { arg: A; waiters: Array<Waiter<V>> }]> = [];
      for (const entry of this.#pending) {
        chunk.push(entry);
        this.#pending.delete(entry[0]);
        if (chunk.length === this.#maxBatch) break;
      }
      this.#inFlight++;
      this.#load(
        chunk.map(([key]) => key),
        chunk.map(([, e]) => e.arg),
      ).then(
        (rows) => {
          for (const [key, e] of chunk) e.waiters.forEach((w, i) => w.resolve(i === 0 || this.#shared ? rows.get(key) : undefined));
        },
        (err: unknown) => {
          for (const [, e] of chunk) for (const w of e.waiters) w.reject(err);
        },
      ).finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
    }
  }
}
