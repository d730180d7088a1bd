/**
 * The message archive (XEP-0313 MAM), in its own database file (archive.db): one row per
 * message per archive owner (each user, and each group chat room). Writes are queued and
 * handed every FLUSH_MS to a writer thread (archiveWriter.ts), which commits each batch in one
 * transaction on the other CPU core; every query first waits for what was queued before it,
 * so it always sees what was sent. (The archive is the copy kept for history: the message
 * itself is delivered, or stored offline, at once.) Where the compiled writer is not available
 * (tests running the TypeScript sources) the batches are written on the main thread instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ARCHIVE_MIGRATIONS, openDatabase, type Db } from '../../storage/database.js';
import type { ArchiveRow, FromWriter, ToWriter } from './archiveWriter.js';

export interface ArchivedMessage {
  /** Our row id: the order of the archive. */
  seq: number;
  /** The stable id given to clients (XEP-0359 stanza-id, MAM result id). */
  id: string;
  owner: string;
  with: string;
  stamp: number;
  stanza: string;
}

export interface ArchiveQuery {
  owner: string;
  with?: string;
  start?: number;
  end?: number;
  /** Page before this id (empty string: the last page). */
  before?: string;
  after?: string;
  max: number;
}

export interface ArchivePage {
  messages: ArchivedMessage[];
  complete: boolean;
  count: number;
}

const FLUSH_MS = 25;
/** …or sooner, when this many rows are waiting. */
const FLUSH_ROWS = 2000;


/**
 * The id clients see is the row id in base 36: allocated here before the row is written (so it
 * can go into the delivered stanza), and a row id lookup needs no extra index.
 */
const toId = (seq: number) => seq.toString(36);
const fromId = (id: string): number | undefined => (/^[0-9a-z]{1,12}$/.test(id) ? parseInt(id, 36) : undefined);

export class ArchiveStore {
  readonly #db: Db;
  #queue: ArchiveRow[] = [];
  #scheduled = false;
  readonly #insert;
  readonly #ownerOf;
  #nextSeq: number;
  #worker: Worker | undefined;
  /** Highest row id handed to the writer, and highest it has committed. */
  #posted = 0;
  #committed = 0;
  #waiters: Array<{ upTo: number; resolve: () => void }> = [];

  constructor(dataDir: string, options: { thread?: boolean } = {}) {
    const db = openDatabase(dataDir, 'archive.db', ARCHIVE_MIGRATIONS);
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO archive (id, owner, with_jid, stamp, stanza) VALUES (?, ?, ?, ?, ?)');
    this.#ownerOf = db.prepare<[number], { owner: string }>('SELECT owner FROM archive WHERE id = ?');
    this.#nextSeq = ((db.prepare('SELECT max(id) AS m FROM archive').get() as { m: number | null }).m ?? 0) + 1;
    this.#committed = this.#nextSeq - 1;
    this.#posted = this.#committed;
    const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'archiveWriter.js');
    if ((options.thread ?? true) && fs.existsSync(writer)) {
      this.#worker = new Worker(writer, { workerData: { file: path.join(dataDir, 'archive.db') } });
      this.#worker.on('message', (m: FromWriter) => this.#onCommitted(m));
      this.#worker.on('error', (err) => this.#writerFailed(err));
      this.#worker.unref();
    }
  }

  /** The writer thread died: carry on writing on this thread (nothing queued later is lost). */
  #writerFailed(err: Error): void {
    this.onError?.(err);
    this.#worker = undefined;
    this.#onCommitted({ type: 'committed', upTo: this.#posted });
  }

  /** Reports archive write failures (the gateway logs them). */
  onError: ((err: Error) => void) | undefined;

  #onCommitted(m: FromWriter): void {
    if (m.type === 'error') this.onError?.(new Error(`archive write failed: ${m.message}`));
    this.#committed = Math.max(this.#committed, m.upTo);
    const ready = this.#waiters.filter((w) => w.upTo <= this.#committed);
    this.#waiters = this.#waiters.filter((w) => w.upTo > this.#committed);
    for (const w of ready) w.resolve();
  }

  /** Allocates the id of the next archived message. */
  newId(): string {
    return toId(this.#nextSeq++);
  }

  append(owner: string, id: string, withJid: string, stanza: string, stamp = Date.now()): void {
    this.#queue.push({ owner, seq: fromId(id)!, with: withJid, stamp, stanza });
    if (this.#queue.length >= FLUSH_ROWS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), FLUSH_MS).unref();
    }
  }

  /** Hands queued rows to the writer (or writes them here without one). */
  flush(): void {
    this.#scheduled = false;
    if (!this.#queue.length) return;
    const rows = this.#queue;
    this.#queue = [];
    if (this.#worker) {
      this.#posted = rows[rows.length - 1].seq;
      this.#worker.postMessage({ type: 'rows', rows } satisfies ToWriter);
      return;
    }
    this.#db.transaction(() => {
      for (const r of rows) this.#insert.run(r.seq, r.owner, r.with, r.stamp, r.stanza);
    })();
    this.#committed = rows[rows.length - 1].seq;
  }

  /** Resolves once everything archived so far is committed. */
  settled(): Promise<void> {
    this.flush();
    if (this.#committed >= this.#posted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ upTo: this.#posted, resolve }));
  }

  async close(): Promise<void> {
    await this.settled();
    await this.#worker?.terminate();
    this.#db.close();
  }

  async query(q: ArchiveQuery): Promise<ArchivePage | 'item-not-found'> {
    await this.settled();
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
    const count = (this.#db.prepare(`SELECT count(*) AS n FROM archive WHERE ${filter}`).get(params) as { n: number }).n;
    const page: Record<string, string | number> = { ...params, max: q.max + 1 };
    let rows: Array<Record<string, string | number>>;
    const known = (id: string): number | undefined => {
      const seq = fromId(id);
      return seq !== undefined && this.#ownerOf.get(seq)?.owner === q.owner ? seq : undefined;
    };
    if (q.after !== undefined) {
      const seq = known(q.after);
      if (seq === undefined) return 'item-not-found';
      rows = this.#db.prepare(`SELECT * FROM archive WHERE ${filter} AND id > @seq ORDER BY id ASC LIMIT @max`).all({ ...page, seq }) as typeof rows;
    } else if (q.before !== undefined) {
      let seqCond = '';
      if (q.before !== '') {
        const seq = known(q.before);
        if (seq === undefined) return 'item-not-found';
        seqCond = ` AND id < ${Number(seq)}`;
      }
      rows = (this.#db.prepare(`SELECT * FROM archive WHERE ${filter}${seqCond} ORDER BY id DESC LIMIT @max`).all(page) as typeof rows).reverse();
      // With "before" the extra row (if any) is the oldest one.
      if (rows.length > q.max) return { messages: rows.slice(1).map(toMessage), complete: false, count };
      return { messages: rows.map(toMessage), complete: true, count };
    } else {
      rows = this.#db.prepare(`SELECT * FROM archive WHERE ${filter} ORDER BY id ASC LIMIT @max`).all(page) as typeof rows;
    }
    const complete = rows.length <= q.max;
    return { messages: rows.slice(0, q.max).map(toMessage), complete, count };
  }
}

function toMessage(r: Record<string, string | number>): ArchivedMessage {
  return {
    seq: Number(r.id),
    id: toId(Number(r.id)),
    owner: String(r.owner),
    with: String(r.with_jid),
    stamp: Number(r.stamp),
    stanza: String(r.stanza),
  };
}
