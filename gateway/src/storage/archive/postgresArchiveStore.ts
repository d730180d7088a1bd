/**
 * The archive on PostgreSQL, written by several gateways at once. Rows are queued and written
 * every FLUSH_MS (or FLUSH_ROWS) as one transaction of two statements: the per-owner counters
 * in archive_heads move on by the batch's count (locking those owners' rows, always in the same
 * order), and the rows go in with one multi-row INSERT (from one JSON document). The counter lock
 * orders writers per owner, so a row committed later always has a higher seq: a client that
 * pages "after" the last id it saw never misses a message another gateway committed later.
 *
 * The id clients see is allocated here, before the write: milliseconds since 2026 (9 base-36
 * digits), the writer's number (2 digits, from a database sequence, unique among 1296 live
 * gateways) and a counter within the millisecond (3 digits) — unique, of one length, and in
 * time order when compared as text. (Plain string arithmetic: it runs for every message.)
 */
import type { Logger } from '../../../../server-common/logger.js';
import type { SqlDatabase } from '../sql/sqlDatabase.js';
import { FLUSH_MS, FLUSH_ROWS, pageOf, type ArchiveAddition, type ArchivedMessage, type ArchivePage, type ArchiveQuery, type ArchiveStore } from './archiveStore.js';

interface QueuedRow {
  owner: string;
  id: string;
  with: string;
  stamp: number;
  stanza: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

const EPOCH_MS = Date.UTC(2026, 0, 1);
/** Writers numbered 0…1295 (two base-36 digits). */
const WRITERS = 36 ** 2;
/** Ids allocated within one millisecond before borrowing the next. */
const MAX_COUNTER = 4095;
/** A failed batch is tried again after these delays before its messages count as lost. */
const RETRY_MS = [100, 300, 1000, 3000];

export class PostgresArchiveStore implements ArchiveStore {
  readonly #db: SqlDatabase;
  /** This writer's two digits of every id. */
  readonly #writerTag: string;
  readonly #log: Logger;
  #queue: QueuedRow[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The batch being written, if any (one at a time, so this gateway's rows stay in order). */
  #writing: Promise<void> | undefined;
  #lastMs = 0;
  #counter = 0;
  onError: ((err: Error) => void) | undefined;

  private constructor(db: SqlDatabase, writer: number, logger: Logger) {
    this.#db = db;
    this.#writerTag = writer.toString(36).padStart(2, '0');
    this.#log = logger;
  }

  static async open(db: SqlDatabase, logger: Logger): Promise<PostgresArchiveStore> {
    const row = await db.get<{ n: number }>("SELECT nextval('archive_writers') AS n");
    return new PostgresArchiveStore(db, Number(row!.n) % WRITERS, logger);
  }

  #nextId(): string {
    let ms = Math.max(Date.now() - EPOCH_MS, this.#lastMs);
    if (ms === this.#lastMs) {
      if (this.#counter === MAX_COUNTER) {
        ms += 1; // more than 4096 in one millisecond: borrow the next one
        this.#counter = 0;
      } else this.#counter++;
    } else this.#counter = 0;
    this.#lastMs = ms;
    return ms.toString(36).padStart(9, '0') + this.#writerTag + this.#counter.toString(36).padStart(3, '0');
  }

  add(owner: string, withJid: string, render: (id: string) => string, stamp = Date.now()): ArchiveAddition {
    const id = this.#nextId();
    let row!: QueuedRow;
    const committed = new Promise<void>((resolve, reject) => {
      row = { owner, id, with: withJid, stamp, stanza: render(id), resolve, reject };
    });
    committed.catch(() => undefined); // reported through onError; callers may ignore it
    this.#queue.push(row);
    if (this.#queue.length >= FLUSH_ROWS) this.#kick(0);
    else this.#kick(FLUSH_MS);
    return { id, committed };
  }

  #kick(delay: number): void {
    if (this.#writing) return; // the running batch starts the next one when it ends
    if (delay === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      void this.#writeNext();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#writeNext();
      }, delay);
      this.#timer.unref();
    }
  }

  async #writeNext(): Promise<void> {
    if (this.#writing || !this.#queue.length) return;
    const rows = this.#queue.splice(0, FLUSH_ROWS);
    const done = this.#write(rows);
    this.#writing = done;
    await done;
    this.#writing = undefined;
    if (this.#queue.length) this.#kick(this.#queue.length >= FLUSH_ROWS ? 0 : FLUSH_MS);
  }

  async #write(rows: QueuedRow[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#insert(rows);
        for (const r of rows) r.resolve();
        return;
      } catch (err) {
        if (attempt < RETRY_MS.length) {
          this.#log.warn({ err: (err as Error).message, rows: rows.length }, 'archive batch failed; trying again');
          await new Promise((r) => setTimeout(r, RETRY_MS[attempt]));
          continue;
        }
        const failure = new Error(`archive write failed: ${(err as Error).message}`);
        this.onError?.(failure);
        for (const r of rows) r.reject(failure);
        return;
      }
    }
  }

  async #insert(rows: QueuedRow[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.owner, (counts.get(r.owner) ?? 0) + 1);
    const owners = [...counts.keys()].sort();
    await this.#db.transaction(async (tx) => {
      const heads = await tx.all<{ owner: string; last_seq: number }>(
        `INSERT INTO archive_heads (owner, last_seq) SELECT * FROM unnest(?::text[], ?::bigint[])
         ON CONFLICT (owner) DO UPDATE SET last_seq = archive_heads.last_seq + excluded.last_seq
         RETURNING owner, last_seq`,
        [owners, owners.map((o) => counts.get(o)!)],
      );
      // Each owner's rows take the seqs just reserved, in the order they were queued.
      const next = new Map(heads.map((h) => [h.owner, Number(h.last_seq) - counts.get(h.owner)! + 1]));
      const seqs = rows.map((r) => {
        const s = next.get(r.owner)!;
        next.set(r.owner, s + 1);
        return s;
      });
      // One JSON document for the rows: JSON.stringify is native, where node-postgres escapes
      // array elements one by one in JavaScript (most of this write's CPU in the gateway).
      await tx.run(
        `INSERT INTO archive (owner, seq, stanza_id, with_jid, stamp, stanza)
         SELECT o, s, i, w, t, x FROM json_to_recordset(?::json) AS r(o text, s bigint, i text, w text, t bigint, x text)`,
        [JSON.stringify(rows.map((r, k) => ({ o: r.owner, s: seqs[k], i: r.id, w: r.with, t: r.stamp, x: r.stanza })))],
      );
    });
  }

  async settled(): Promise<void> {
    this.#kick(0);
    while (this.#writing || this.#queue.length) {
      await this.#writing;
      if (!this.#writing && this.#queue.length) this.#kick(0);
    }
  }

  async close(): Promise<void> {
    await this.settled();
    clearTimeout(this.#timer);
  }

  async query(q: ArchiveQuery): Promise<ArchivePage | 'item-not-found'> {
    await this.settled();
    const where = ['owner = ?'];
    const params: Array<string | number> = [q.owner];
    if (q.with) {
      where.push('with_jid = ?');
      params.push(q.with);
    }
    if (q.start !== undefined) {
      where.push('stamp >= ?');
      params.push(q.start);
    }
    if (q.end !== undefined) {
      where.push('stamp <= ?');
      params.push(q.end);
    }
    const filter = where.join(' AND ');
    const count = Number((await this.#db.get<{ n: number }>(`SELECT count(*) AS n FROM archive WHERE ${filter}`, params))?.n ?? 0);
    const seqOf = async (id: string): Promise<number | undefined> => {
      const row = await this.#db.get<{ seq: number }>('SELECT seq FROM archive WHERE owner = ? AND stanza_id = ?', [q.owner, id]);
      return row ? Number(row.seq) : undefined;
    };
    const columns = 'owner, seq, stanza_id, with_jid, stamp, stanza';
    if (q.after !== undefined) {
      const seq = await seqOf(q.after);
      if (seq === undefined) return 'item-not-found';
      const rows = await this.#db.all(`SELECT ${columns} FROM archive WHERE ${filter} AND seq > ? ORDER BY seq ASC LIMIT ?`, [...params, seq, q.max + 1]);
      return pageOf(rows.map(toMessage), q, count, false);
    }
    if (q.before !== undefined) {
      let seqCond = '';
      const extra: number[] = [];
      if (q.before !== '') {
        const seq = await seqOf(q.before);
        if (seq === undefined) return 'item-not-found';
        seqCond = ' AND seq < ?';
        extra.push(seq);
      }
      const rows = await this.#db.all(`SELECT ${columns} FROM archive WHERE ${filter}${seqCond} ORDER BY seq DESC LIMIT ?`, [...params, ...extra, q.max + 1]);
      return pageOf(rows.map(toMessage), q, count, true);
    }
    const rows = await this.#db.all(`SELECT ${columns} FROM archive WHERE ${filter} ORDER BY seq ASC LIMIT ?`, [...params, q.max + 1]);
    return pageOf(rows.map(toMessage), q, count, false);
  }
}

function toMessage(r: Record<string, unknown>): ArchivedMessage {
  return {
    seq: Number(r.seq),
    id: String(r.stanza_id),
    owner: String(r.owner),
    with: String(r.with_jid),
    stamp: Number(r.stamp),
    stanza: String(r.stanza),
  };
}
