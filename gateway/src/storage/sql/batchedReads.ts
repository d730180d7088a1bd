/**
 * Point reads by key that arrive in the same turn of the event loop, coalesced into one query
 * (`… WHERE key IN (?, ?, …)`). When hundreds of phones register or clients log in at once,
 * each cold lookup would otherwise be its own round trip through the pool; on PostgreSQL the
 * per-statement cost, not the rows, is what limits the rate. A "read" may also remove what it
 * returns (DELETE … RETURNING), with `shared: false`.
 */

export interface BatchedReadsOptions<K extends string, A, V> {
  /**
   * Loads the rows of `keys` (distinct, at most `maxBatch`) in one query. `args` are the
   * callers' extra arguments, one per key in the same order (each key's first caller's).
   */
  load(keys: K[], args: A[]): Promise<Map<K, V>>;
  /** Most keys in one query. */
  maxBatch?: number;
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
  #pending = new Map<K, { arg: A; waiters: Array<Waiter<V>> }>();
  #scheduled = false;

  constructor(options: BatchedReadsOptions<K, A, V>) {
    this.#load = options.load;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#shared = options.shared ?? true;
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
      if (!this.#scheduled) {
        this.#scheduled = true;
        // setImmediate, not a microtask: the reads of every socket that became readable in
        // this poll of the event loop join one batch.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = new Map();
    this.#scheduled = false;
    const entries = [...batch];
    for (let i = 0; i < entries.length; i += this.#maxBatch) {
      const chunk = entries.slice(i, i + this.#maxBatch);
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
      );
    }
  }
}
