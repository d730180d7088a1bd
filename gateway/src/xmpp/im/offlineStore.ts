/**
 * Messages for users with no connected resource (XEP-0160), kept until they next sign in.
 * Written synchronously — this is the copy that must not be lost.
 */
import type { Db } from '../../storage/database.js';

export class OfflineStore {
  readonly #stmts;

  constructor(
    db: Db,
    private readonly maxPerUser: number,
  ) {
    this.#stmts = {
      count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM offline WHERE owner = ?'),
      insert: db.prepare('INSERT INTO offline (owner, stanza, stamp) VALUES (?, ?, ?)'),
      take: db.prepare<[string], { id: number; stanza: string; stamp: number }>('SELECT id, stanza, stamp FROM offline WHERE owner = ? ORDER BY id'),
      del: db.prepare<[string, number]>('DELETE FROM offline WHERE owner = ? AND id <= ?'),
    };
  }

  /** Stores a message; false when the user's offline store is full (the sender gets an error). */
  store(owner: string, stanza: string, stamp = Date.now()): boolean {
    if (this.maxPerUser > 0 && (this.#stmts.count.get(owner)?.n ?? 0) >= this.maxPerUser) return false;
    this.#stmts.insert.run(owner, stanza, stamp);
    return true;
  }

  /** Everything stored for `owner`, oldest first; call `done` after delivering to delete them. */
  pending(owner: string): { messages: Array<{ stanza: string; stamp: number }>; done: () => void } {
    const rows = this.#stmts.take.all(owner);
    const last = rows.length ? rows[rows.length - 1].id : 0;
    return { messages: rows, done: () => void (last && this.#stmts.del.run(owner, last)) };
  }
}
