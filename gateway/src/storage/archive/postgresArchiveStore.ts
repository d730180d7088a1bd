/**
 * The archive on PostgreSQL, written by several gateways at once. Rows are gathered into a
 * batch and written every FLUSH_MS (or at FLUSH_ROWS) by one statement: the per-owner counters
 * in archive_heads move on by the batch's count (locking those owners' rows, always in the same
 * order) and the rows go in with the seqs just reserved. The counter lock orders writers per
 * owner, so a row committed later always has a higher seq: a client that pages "after" the last
 * id it saw never misses a message another gateway committed later.
 *
 * A batch is kept as JSON text in a Buffer, outside the JavaScript heap: rows wait tens of ms
 * for their commit, and as objects (or strings) they outlived the young generation, so every
 * message was copied and later swept by the garbage collector. The rows of a batch share one
 * `committed` promise.
 *
 * The id clients see is allocated here, before the write: milliseconds since 2026 (9 base-36
 * digits), the writer's number (2 digits, from a database sequence, unique among 1296 live
 * gateways) and a counter within the millisecond (3 digits) — unique, of one length, and in
 * time order when compared as text. (Plain string arithmetic: it runs for every message.)
 */
import type { Logger } from '../../../../server-common/logger.js';
import type { SqlDatabase } from '../sql/sqlDatabase.js';
import { FLUSH_MS, FLUSH_ROWS, pageOf, type ArchiveAddition, type ArchivedMessage, type ArchivePage, type ArchiveQuery, type ArchiveStore } from './archiveStore.js';

const EPOCH_MS = Date.UTC(2026, 0, 1);
/** Writers numbered 0…1295 (two base-36 digits). */
const WRITERS = 36 ** 2;
/** Ids allocated within one millisecond before borrowing the next. */
const MAX_COUNTER = 4095;
/** A failed batch is tried again after these delays before its messages count as lost. */
const RETRY_MS = [100, 300, 1000, 3000];
/** A batch's first buffer; it doubles as rows arrive. */
const FIRST_BUFFER_BYTES = 64 * 1024;

/**
 * One statement per batch. $1: [{o: owner, n: rows}] sorted by owner; $2: [{o, k: the row's
 * place among its owner's rows in this batch, i: id, w: with, t: stamp, x: stanza}]. A retry
 * after a commit whose answer was lost finds its rows present and adds nothing (the seqs it
 * reserved again are only a gap).
 */
const WRITE_BATCH = `WITH counts AS (
    SELECT o, n FROM json_to_recordset(?::json) AS c(o text, n bigint)
  ), heads AS (
    INSERT INTO archive_heads (owner, last_seq) SELECT o, n FROM counts ORDER BY o
    ON CONFLICT (owner) DO UPDATE SET last_seq = archive_heads.last_seq + excluded.last_seq
    RETURNING owner, last_seq
  )
  INSERT INTO archive (owner, seq, stanza_id, with_jid, stamp, stanza)
  SELECT r.o, heads.last_seq - counts.n + 1 + r.k, r.i, r.w, r.t, r.x
  FROM json_to_recordset(?::json) AS r(o text, k bigint, i text, w text, t bigint, x text)
  JOIN counts ON counts.o = r.o JOIN heads ON heads.owner = r.o
  ON CONFLICT (owner, stanza_id) DO NOTHING`;

/** Rows gathered for one write. */
class Batch {
  buffer = Buffer.allocUnsafeSlow(FIRST_BUFFER_BYTES);
  bytes = 0;
  rows = 0;
  /** Rows per owner so far. */
  readonly counts = new Map<string, number>();
  readonly committed: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.committed.catch(() => undefined); // reported through onError; callers may ignore it
  }

  append(owner: string, id: string, withJid: string, stamp: number, stanza: string): void {
    const k = this.counts.get(owner) ?? 0;
    this.counts.set(owner, k + 1);
    const text = `${this.rows++ ? ',' : '['}{"o":${JSON.stringify(owner)},"k":${k},"i":"${id}","w":${JSON.stringify(withJid)},"t":${stamp},"x":${JSON.stringify(stanza)}}`;
    const room = this.bytes + text.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (room > this.buffer.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(room, this.buffer.length * 2));
      this.buffer.copy(bigger, 0, 0, this.bytes);
      this.buffer = bigger;
    }
    this.bytes += this.buffer.write(text, this.bytes, 'utf8');
  }

  /** The statement's parameters: the counts per owner, and the rows (the JSON array closed). */
  params(): [string, Buffer] {
    const counts = [...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([o, n]) => ({ o, n }));
    this.buffer.write(']', this.bytes, 'utf8');
    return [JSON.stringify(counts), this.buffer.subarray(0, this.bytes + 1)];
  }
}

export class PostgresArchiveStore implements ArchiveStore {
  readonly #db: SqlDatabase;
  /** This writer's two digits of every id. */
  readonly #writerTag: string;
  readonly #log: Logger;
  /** Batches not yet written, oldest first; rows join the last one. */
  #batches: Batch[] = [];
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
    let batch = this.#batches[this.#batches.length - 1];
    if (!batch || batch.rows >= FLUSH_ROWS) this.#batches.push((batch = new Batch()));
    batch.append(owner, id, withJid, stamp, render(id));
    if (batch.rows >= FLUSH_ROWS) this.#kick(0);
    else this.#kick(FLUSH_MS);
    return { id, committed: batch.committed };
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
    if (this.#writing) return;
    const batch = this.#batches.shift();
    if (!batch) return;
    const done = this.#write(batch);
    this.#writing = done;
    await done;
    this.#writing = undefined;
    const next = this.#batches[0];
    if (next) this.#kick(next.rows >= FLUSH_ROWS || this.#batches.length > 1 ? 0 : FLUSH_MS);
  }

  async #write(batch: Batch): Promise<void> {
    const params = batch.params();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#db.run(WRITE_BATCH, params);
        batch.resolve();
        return;
      } catch (err) {
        if (attempt < RETRY_MS.length) {
          this.#log.warn({ err: (err as Error).message, rows: batch.rows }, 'archive batch failed; trying again');
          await new Promise((r) => setTimeout(r, RETRY_MS[attempt]));
          continue;
        }
        const failure = new Error(`archive write failed: ${(err as Error).message}`);
        this.onError?.(failure);
        batch.reject(failure);
        return;
      }
    }
  }

  async settled(): Promise<void> {
    this.#kick(0);
    while (this.#writing || this.#batches.length) {
      await this.#writing;
      if (!this.#writing && this.#batches.length) this.#kick(0);
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
