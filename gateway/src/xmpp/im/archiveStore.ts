/**
 * The message archive (XEP-0313 MAM): one row per message per archive owner (each user, and
 * each group chat room). Writes are queued and committed in one transaction per event-loop
 * turn — at thousands of messages a second that is the difference between one commit and
 * thousands — and every read commits the queue first, so a query always sees what was sent.
 */
import type { Db } from '../../storage/database.js';
import { randomId } from '../../util/randomId.js';

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

interface Pending {
  owner: string;
  id: string;
  with: string;
  stamp: number;
  stanza: string;
}

export class ArchiveStore {
  readonly #db: Db;
  readonly #queue: Pending[] = [];
  #scheduled = false;
  readonly #insert;
  readonly #seqOf;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO archive (owner, archive_id, with_jid, stamp, stanza) VALUES (?, ?, ?, ?, ?)');
    this.#seqOf = db.prepare<[string, string], { id: number }>('SELECT id FROM archive WHERE owner = ? AND archive_id = ?');
  }

  newId(): string {
    return randomId(12);
  }

  append(owner: string, id: string, withJid: string, stanza: string, stamp = Date.now()): void {
    this.#queue.push({ owner, id, with: withJid, stamp, stanza });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (!this.#queue.length) return;
    const rows = this.#queue.splice(0);
    this.#db.transaction(() => {
      for (const r of rows) this.#insert.run(r.owner, r.id, r.with, r.stamp, r.stanza);
    })();
  }

  query(q: ArchiveQuery): ArchivePage | 'item-not-found' {
    this.flush();
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
    if (q.after !== undefined) {
      const seq = this.#seqOf.get(q.owner, q.after)?.id;
      if (seq === undefined) return 'item-not-found';
      rows = this.#db.prepare(`SELECT * FROM archive WHERE ${filter} AND id > @seq ORDER BY id ASC LIMIT @max`).all({ ...page, seq }) as typeof rows;
    } else if (q.before !== undefined) {
      let seqCond = '';
      if (q.before !== '') {
        const seq = this.#seqOf.get(q.owner, q.before)?.id;
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
    id: String(r.archive_id),
    owner: String(r.owner),
    with: String(r.with_jid),
    stamp: Number(r.stamp),
    stanza: String(r.stanza),
  };
}
