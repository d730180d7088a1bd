/**
 * The one SQL interface every store is written against, with two engines behind it: SQLite
 * (better-sqlite3, the one-machine default) and PostgreSQL (node-postgres, when several
 * gateways share the records). Stores write portable SQL with `?` placeholders — the subset
 * both engines speak (INSERT … ON CONFLICT, RETURNING, DELETE … RETURNING) — and ask the
 * engine for the few things that differ (row locks). As in Synapse's and Prosody's SQL
 * storage, one store implementation serves every engine; only the archive's writer differs.
 */

/** Arrays bind only on PostgreSQL (as its arrays, for unnest). */
export type SqlValue = string | number | boolean | bigint | Buffer | null | readonly string[] | readonly number[];
export type SqlRow = Record<string, unknown>;
export type SqlDialect = 'sqlite' | 'postgres';

/** Runs statements, inside or outside a transaction. */
export interface SqlExecutor {
  /** Every row a query returns. */
  all<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Tells every gateway on this database (this one included) that records under `topic`
   * changed, so they drop what they cached. Inside a transaction it is sent on commit.
   */
  notify(topic: string): Promise<void>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly dialect: SqlDialect;
  /**
   * Appended to a SELECT inside a transaction to lock the rows it reads until commit
   * (PostgreSQL `FOR UPDATE`); empty for SQLite, whose write transactions already exclude
   * every other writer.
   */
  readonly forUpdate: string;
  /**
   * `column` is one of `keys`, as a condition and its parameters: `column IN (?, ?, …)` on
   * SQLite, `column = ANY(?)` with one array on PostgreSQL (one statement text for any number
   * of keys, so it is parsed and planned once per connection).
   */
  keyIn(column: string, keys: readonly string[]): { sql: string; params: SqlValue[] };
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * A transaction the database aborted to break a deadlock or a serialization conflict is
   * run again (a few times), so `fn` must not have effects outside the database.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Hears `notify` topics from every gateway; `*` means "anything may have changed". */
  onChange(listener: (topic: string) => void): () => void;
  close(): Promise<void>;
}

/** An INSERT met an existing key (SQLite SQLITE_CONSTRAINT_PRIMARYKEY/UNIQUE, PostgreSQL 23505). */
export class UniqueViolation extends Error {
  constructor(cause: unknown) {
    super('duplicate key', { cause });
  }
}

/** Names a change topic: an aggregate, and optionally one key within it (`roster:alice`). */
export function changeTopic(aggregate: string, key?: string): string {
  return key === undefined ? aggregate : `${aggregate}:${key}`;
}

/** `a IN (?, ?, ?)` for a list of values. */
export function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

/** Booleans as stored by both engines (SQLite returns 0/1, PostgreSQL true/false). */
export function asBoolean(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/** Small listener set shared by the engines. */
export class ChangeListeners {
  readonly #listeners = new Set<(topic: string) => void>();

  add(listener: (topic: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(topic: string): void {
    for (const l of this.#listeners) l(topic);
  }
}
