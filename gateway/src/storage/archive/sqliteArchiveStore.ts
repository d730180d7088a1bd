/**
 * The archive on SQLite, in its own file (archive.db). Rows are queued and handed every
 * FLUSH_MS to a writer thread (sqliteArchiveWriter.ts), which commits each batch in one
 * transaction on the other CPU core. Where the compiled writer is not available (tests running
 * the TypeScript sources) batches are written on the main thread instead.
 *
 * One process writes the file, so the row id, allocated here before the row is written, is
 * both the archive's order and — in base 36 — the id clients see.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { migrate, type MigrationResult } from '../migrations/migrator.js';
import { SqliteDatabase } from '../sql/sqliteDatabase.js';
import { FLUSH_MS, FLUSH_ROWS, pageOf, type ArchiveAddition, type ArchivedMessage, type ArchivePage, type ArchiveQuery, type ArchiveStore } from './archiveStore.js';
import type { ArchiveRow, FromWriter, ToWriter } from './sqliteArchiveWriter.js';

export const toArchiveId = (seq: number): string => seq.toString(36);
const fromId = (id: string): number | undefined => (/^[0-9a-z]{1,10}$/.test(id) ? parseInt(id, 36) : undefined);

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SqliteArchiveStore implements ArchiveStore {
  readonly #db: SqliteDatabase;
  #queue: ArchiveRow[] = [];
  #scheduled = false;
  #nextSeq: number;
  #worker: Worker | undefined;
  /** Highest row id handed to the writer, and highest it has committed (or failed). */
  #posted = 0;
  #committed = 0;
  /** In order of upTo (ids are allocated in order). */
  #waiters: Waiter[] = [];
  onError: ((err: Error) => void) | undefined;
  /** What opening applied to archive.db. */
  readonly migration: MigrationResult;

  private constructor(db: SqliteDatabase, migration: MigrationResult, options: { thread: boolean }) {
    this.#db = db;
    this.migration = migration;
    const raw = db.raw;
    this.#nextSeq = ((raw.prepare('SELECT max(id) AS m FROM archive').get() as { m: number | null }).m ?? 0) + 1;
    this.#committed = this.#nextSeq - 1;
    this.#posted = this.#committed;
    const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sqliteArchiveWriter.js');
    if (options.thread && fs.existsSync(writer)) {
      this.#worker = new Worker(writer, { workerData: { file: db.file } });
      this.#worker.on('message', (m: FromWriter) => this.#onCommitted(m));
      this.#worker.on('error', (err) => this.#writerFailed(err));
      this.#worker.unref();
    }
  }

  /** Opens (and brings up to date) archive.db in `dir`. */
  static async open(dir: string, options: { thread?: boolean } = {}): Promise<SqliteArchiveStore> {
    const db = new SqliteDatabase({ dir, file: 'archive.db' });
    let migration: MigrationResult;
    try {
      migration = await migrate(db, 'archive');
    } catch (err) {
      await db.close();
      throw err;
    }
    return new SqliteArchiveStore(db, migration, { thread: options.thread ?? true });
  }

  /** The writer thread died: carry on writing on this thread (nothing queued later is lost). */
  #writerFailed(err: Error): void {
    this.onError?.(err);
    this.#worker = undefined;
    this.#settle(this.#posted, err);
  }

  #onCommitted(m: FromWriter): void {
    const failure = m.type === 'error' ? new Error(`archive write failed: ${m.message}`) : undefined;
    if (failure) this.onError?.(failure);
    this.#settle(m.upTo, failure);
  }

  #settle(upTo: number, failure: Error | undefined): void {
    this.#committed = Math.max(this.#committed, upTo);
    let n = 0;
    while (n < this.#waiters.length && this.#waiters[n].upTo <= this.#committed) n++;
    for (const w of this.#waiters.splice(0, n)) {
      if (failure) w.reject(failure);
      else w.resolve();
    }
  }

  add(owner: string, withJid: string, render: (id: string) => string, stamp = Date.now()): ArchiveAddition {
    const seq = this.#nextSeq++;
    const id = toArchiveId(seq);
    this.#queue.push({ owner, seq, with: withJid, stamp, stanza: render(id) });
    const committed = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo: seq, resolve, reject }));
    committed.catch(() => undefined); // reported through onError; callers may ignore it
    if (this.#queue.length >= FLUSH_ROWS) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.#flush(), FLUSH_MS).unref();
    }
    return { id, committed };
  }

  /** Hands queued rows to the writer (or writes them here without one). */
  #flush(): void {
    this.#scheduled = false;
    if (!this.#queue.length) return;
    // Ids are allocated as rows are queued, so the queue is in id order and "committed up
    // to" a row id means every row before it is settled too.
    const rows = this.#queue;
    this.#queue = [];
    const upTo = rows[rows.length - 1].seq;
    if (this.#worker) {
      this.#posted = upTo;
      this.#worker.postMessage({ type: 'rows', rows } satisfies ToWriter);
      return;
    }
    const insert = this.#db.raw.prepare('INSERT INTO archive (id, owner, with_jid, stamp, stanza) VALUES (?, ?, ?, ?, ?)');
    let failure: Error | undefined;
    try {
      this.#db.raw.transaction(() => {
        for (const r of rows) insert.run(r.seq, r.owner, r.with, r.stamp, r.stanza);
      })();
    } catch (err) {
      failure = err as Error;
      this.onError?.(failure);
    }
    this.#posted = upTo;
    this.#settle(upTo, failure);
  }

  settled(): Promise<void> {
    this.#flush();
    if (this.#committed >= this.#posted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ upTo: this.#posted, resolve, reject: () => resolve() }));
  }

  async close(): Promise<void> {
    await this.settled();
    await this.#worker?.terminate();
    await this.#db.close();
  }

  async query(q: ArchiveQuery): Promise<ArchivePage | 'item-not-found'> {
    await this.settled();
    const raw = this.#db.raw;
    const where = ['owner = @owner'];
    const params: Record<string, string | number> = { owner: q.owner };
    if (q.with) {
      where.push('with_jid = @with');
      params.with = q.with;
    }
    if (q.start !== undefined) {
      where.push('stamp >= @start');
      params.start = q.start;
    }
    if (q.end !== undefined) {
      where.push('stamp <= @end');
      params.end = q.end;
    }
    const filter = where.join(' AND ');
    const count = (raw.prepare(`SELECT count(*) AS n FROM archive WHERE ${filter}`).get(params) as { n: number }).n;
    const page: Record<string, string | number> = { ...params, max: q.max + 1 };
    const known = (id: string): number | undefined => {
      const seq = fromId(id);
      const row = seq === undefined ? undefined : (raw.prepare('SELECT owner FROM archive WHERE id = ?').get(seq) as { owner: string } | undefined);
      return row?.owner === q.owner ? seq : undefined;
    };
    type Row = Record<string, string | number>;
    if (q.after !== undefined) {
      const seq = known(q.after);
      if (seq === undefined) return 'item-not-found';
      const rows = raw.prepare(`SELECT * FROM archive WHERE ${filter} AND id > @seq ORDER BY id ASC LIMIT @max`).all({ ...page, seq }) as Row[];
      return pageOf(rows.map(toMessage), q, count, false);
    }
    if (q.before !== undefined) {
      let seqCond = '';
      const extra: Record<string, number> = {};
      if (q.before !== '') {
        const seq = known(q.before);
        if (seq === undefined) return 'item-not-found';
        seqCond = ' AND id < @seq';
        extra.seq = seq;
      }
      const rows = raw.prepare(`SELECT * FROM archive WHERE ${filter}${seqCond} ORDER BY id DESC LIMIT @max`).all({ ...page, ...extra }) as Row[];
      return pageOf(rows.map(toMessage), q, count, true);
    }
    const rows = raw.prepare(`SELECT * FROM archive WHERE ${filter} ORDER BY id ASC LIMIT @max`).all(page) as Row[];
    return pageOf(rows.map(toMessage), q, count, false);
  }
}

function toMessage(r: Record<string, string | number>): ArchivedMessage {
  return {
    seq: Number(r.id),
    id: toArchiveId(Number(r.id)),
    owner: String(r.owner),
    with: String(r.with_jid),
    stamp: Number(r.stamp),
    stanza: String(r.stanza),
  };
}
