/**
 * The PostgreSQL engine (node-postgres): a pool of connections shared by the stores, one more
 * connection that LISTENs for other gateways' change notices, and transactions on a connection
 * of their own. Statements are written with `?` placeholders and turned into `$1, $2 …` here.
 */
import pg from 'pg';
import type { Logger } from '../../../../server-common/logger.js';
import { ChangeListeners, UniqueViolation, type SqlDatabase, type SqlExecutor, type SqlRow, type SqlValue } from './sqlDatabase.js';

export interface PostgresDatabaseOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Most connections this gateway opens (DATABASE_POOL_SIZE). */
  poolSize: number;
  logger: Logger;
}

/** The channel every gateway listens on for change notices. */
const CHANNEL = 'parley_changes';
/** Deadlock (40P01) and serialization failure (40001): the transaction is simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  readonly forUpdate = ' FOR UPDATE';

  keyIn(column: string, keys: readonly string[]): { sql: string; params: SqlValue[] } {
    return { sql: `${column} = ANY(?::text[])`, params: [keys] };
  }
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #log: Logger;
  readonly #listeners = new ChangeListeners();
  #listener: pg.Client | undefined;
  #listening = false;
  #closed = false;

  private constructor(options: PostgresDatabaseOptions) {
    this.#url = options.url;
    this.#log = options.logger;
    const types = new pg.TypeOverrides();
    // BIGINT (times in ms, counts, sequence numbers): every value we store fits a double exactly.
    types.setTypeParser(20, (v: string) => Number(v));
    this.#pool = new pg.Pool({ connectionString: options.url, max: options.poolSize, types, application_name: 'parley' });
    // An idle connection that breaks (PostgreSQL restarted) must not end the process; the pool replaces it.
    this.#pool.on('error', (err) => this.#log.warn({ err: err.message }, 'PostgreSQL connection lost; the pool opens a new one'));
  }

  /** Connects, or explains which database could not be reached and why. */
  static async connect(options: PostgresDatabaseOptions): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(options);
    try {
      await db.#pool.query('SELECT 1');
    } catch (err) {
      await db.#pool.end().catch(() => undefined);
      throw new Error(`Cannot use the PostgreSQL database at ${redactUrl(options.url)}: ${(err as Error).message}`);
    }
    return db;
  }

  /** The URL with its password hidden, for messages. */
  get displayUrl(): string {
    return redactUrl(this.#url);
  }

  async all<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await query<T>(this.#pool, sql, params)).rows;
  }

  async get<T extends SqlRow = SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await query<T>(this.#pool, sql, params)).rows[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await query(this.#pool, sql, params)).rowCount ?? 0;
  }

  async exec(sql: string): Promise<void> {
    await this.#pool.query(sql);
  }

  async notify(topic: string): Promise<void> {
    await this.#pool.query('SELECT pg_notify($1, $2)', [CHANNEL, topic]);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      let open = true;
      const guard = () => {
        if (!open) throw new Error('statement on a finished transaction');
      };
      const tx: SqlExecutor = {
        all: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []) => (guard(), (await query<R>(client, sql, params)).rows),
        get: async <R extends SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<R | undefined> => (guard(), (await query<R>(client, sql, params)).rows[0]),
        run: async (sql, params = []) => (guard(), (await query(client, sql, params)).rowCount ?? 0),
        exec: async (sql) => (guard(), void (await client.query(sql))),
        // Delivered by PostgreSQL when (and only if) the transaction commits.
        notify: async (topic) => void (await client.query('SELECT pg_notify($1, $2)', [CHANNEL, topic])),
      };
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        const code = (err as { code?: string }).code ?? ((err as { cause?: { code?: string } }).cause?.code);
        if (code && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
          continue;
        }
        throw err;
      } finally {
        open = false;
        client.release(broken);
      }
    }
  }

  onChange(listener: (topic: string) => void): () => void {
    if (!this.#listening) {
      this.#listening = true;
      void this.#listen();
    }
    return this.#listeners.add(listener);
  }

  /** Keeps one connection LISTENing; after losing it, everything cached may be stale (`*`). */
  async #listen(delayMs = 0): Promise<void> {
    if (this.#closed) return;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs).unref());
    const client = new pg.Client({ connectionString: this.#url, application_name: 'parley-listen' });
    this.#listener = client;
    client.on('notification', (m) => {
      if (m.channel === CHANNEL && m.payload) this.#listeners.emit(m.payload);
    });
    const retry = (err: Error) => {
      if (this.#closed || this.#listener !== client) return;
      this.#log.warn({ err: err.message }, 'PostgreSQL change notices interrupted; reconnecting');
      this.#listener = undefined;
      client.end().catch(() => undefined);
      this.#listeners.emit('*');
      void this.#listen(Math.min(5000, Math.max(200, delayMs * 2)));
    };
    client.on('error', retry);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (delayMs) this.#listeners.emit('*');
    } catch (err) {
      retry(err as Error);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.end().catch(() => undefined);
    await this.#pool.end();
  }
}

const converted = new Map<string, string>();

/** `?` → `$1, $2 …` (outside quoted strings; cached per statement text). */
export function toPostgresPlaceholders(sql: string): string {
  let out = converted.get(sql);
  if (out !== undefined) return out;
  let n = 0;
  let quoted = false;
  out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  if (converted.size < MAX_NAMED) converted.set(sql, out);
  return out;
}

/**
 * Statements by name: node-postgres prepares a named statement once per connection, so
 * PostgreSQL parses and plans it once instead of on every call (most of its work for the
 * short reads and writes the gateway sends). Texts past MAX_NAMED go unnamed.
 */
const names = new Map<string, string>();
const MAX_NAMED = 10_000;

function statement(sql: string, params: readonly SqlValue[]): pg.QueryConfig<SqlValue[]> {
  const text = toPostgresPlaceholders(sql);
  let name = names.get(sql);
  if (name === undefined && names.size < MAX_NAMED) names.set(sql, (name = `parley_${names.size}`));
  return { text, values: params as SqlValue[], ...(name ? { name } : {}) };
}

async function query<T extends SqlRow>(on: pg.Pool | pg.PoolClient, sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult<T>> {
  try {
    return await on.query<T, SqlValue[]>(statement(sql, params));
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new UniqueViolation(err);
    throw err;
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a DATABASE_URL that is not a URL)';
  }
}
