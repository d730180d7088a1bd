/**
 * The SQLite engine (better-sqlite3): one file under the data directory, WAL mode. Statements
 * run synchronously on the calling thread and are cached by their text. A transaction takes
 * the connection for itself: while one is open (it may await between statements), statements
 * from elsewhere wait for it, so nothing slips into — or is rolled back with — someone else's
 * transaction. Another process (the `parley` CLI) committing to the file is noticed through
 * PRAGMA data_version and reported as the change topic `*`.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ChangeListeners, placeholders, UniqueViolation, type SqlDatabase, type SqlExecutor, type SqlRow, type SqlValue } from './sqlDatabase.js';

export interface SqliteDatabaseOptions {
  /** Directory of the file (created 0700 when missing). */
  dir: string;
  file: string;
  /** How often to look for commits by other processes (ms); 0 turns it off. */
  watchMs?: number;
}

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';

  keyIn(column: string, keys: readonly string[]): { sql: string; params: SqlValue[] } {
    return { sql: `${column} IN (${placeholders(keys.length)})`, params: [...keys] };
  }
  /** The underlying connection (the archive's migrations and the copy tool use it directly). */
  readonly raw: Database.Database;
  readonly file: string;
  readonly #statements = new Map<string, Statement>();
  readonly #listeners = new ChangeListeners();
  /** Resolves when the open transaction ends; undefined when none is open. */
  #busy: Promise<void> | undefined;
  #watch: NodeJS.Timeout | undefined;

  constructor(options: SqliteDatabaseOptions) {
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    this.file = path.join(options.dir, options.file);
    const db = new Database(this.file);
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    this.raw = db;
    if (options.watchMs) {
      let version = db.pragma('data_version', { simple: true }) as number;
      this.#watch = setInterval(() => {
        const now = db.pragma('data_version', { simple: true }) as number;
        if (now !== version) {
          version = now;
          this.#listeners.emit('*');
        }
      }, options.watchMs);
      this.#watch.unref();
    }
  }

  async all<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    if (this.#busy) await this.#idle();
    return this.#all<T>(sql, params);
  }

  async get<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    if (this.#busy) await this.#idle();
    return this.#get<T>(sql, params);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    if (this.#busy) await this.#idle();
    return this.#run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    if (this.#busy) await this.#idle();
    this.raw.exec(sql);
  }

  async notify(topic: string): Promise<void> {
    this.#listeners.emit(topic);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.#busy) await this.#busy;
    let end!: () => void;
    this.#busy = new Promise<void>((resolve) => (end = resolve));
    const topics: string[] = [];
    let open = true;
    const guard = () => {
      if (!open) throw new Error('statement on a finished transaction');
    };
    const tx: SqlExecutor = {
      all: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) => (guard(), this.#all<R>(sql, params)),
      get: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) => (guard(), this.#get<R>(sql, params)),
      run: async (sql, params = []) => (guard(), this.#run(sql, params)),
      exec: async (sql) => (guard(), void this.raw.exec(sql)),
      notify: async (topic) => void topics.push(topic),
    };
    try {
      this.raw.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(tx);
        this.raw.exec('COMMIT');
        open = false;
        for (const t of topics) this.#listeners.emit(t);
        return result;
      } catch (err) {
        open = false;
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.#busy = undefined;
      end();
    }
  }

  onChange(listener: (topic: string) => void): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.#watch);
    while (this.#busy) await this.#busy;
    this.raw.close();
  }

  async #idle(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  #statement(sql: string): Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #all<T>(sql: string, params: readonly SqlValue[]): T[] {
    try {
      return this.#statement(sql).all(...bind(params)) as T[];
    } catch (err) {
      throw translate(err);
    }
  }

  #get<T>(sql: string, params: readonly SqlValue[]): T | undefined {
    try {
      return this.#statement(sql).get(...bind(params)) as T | undefined;
    } catch (err) {
      throw translate(err);
    }
  }

  #run(sql: string, params: readonly SqlValue[]): number {
    try {
      return this.#statement(sql).run(...bind(params)).changes;
    } catch (err) {
      throw translate(err);
    }
  }
}

/** SQLite binds no booleans: 1/0, as the schema stores them. */
function bind(params: readonly SqlValue[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

function translate(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' ? new UniqueViolation(err) : err;
}
