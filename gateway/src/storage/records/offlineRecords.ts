/**
 * Messages for users with no connected resource (XEP-0160), kept until they next sign in.
 * `takeAll` removes and returns them in one statement, so when two sessions of a user come
 * online together — on one gateway or two — each message goes to exactly one of them.
 */
import { BatchedReads } from '../sql/batchedReads.js';
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface OfflineMessage {
  stanza: string;
  stamp: number;
}

export interface OfflineRecords {
  /** Stores a message unless `owner` already has `max` (0: no limit); false when full. */
  store(owner: string, message: OfflineMessage, max: number): Promise<boolean>;
  /** Removes and returns everything stored for `owner`, oldest first. */
  takeAll(owner: string): Promise<OfflineMessage[]>;
  count(owner: string): Promise<number>;
}

export class SqlOfflineRecords implements OfflineRecords {
  /**
   * Each owner's stores, one after another: on a pool two inserts could otherwise commit in the
   * other order, and messages must come back in the order they were sent.
   */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(private readonly db: SqlDatabase) {}

  store(owner: string, message: OfflineMessage, max: number): Promise<boolean> {
    const stored = (this.#queues.get(owner) ?? Promise.resolve()).then(() => this.#insert(owner, message, max));
    const settled = stored.catch(() => undefined);
    this.#queues.set(owner, settled);
    void settled.then(() => this.#queues.get(owner) === settled && this.#queues.delete(owner));
    return stored;
  }

  async #insert(owner: string, message: OfflineMessage, max: number): Promise<boolean> {
    if (max <= 0) {
      await this.db.run('INSERT INTO offline (owner, stanza, stamp) VALUES (?, ?, ?)', [owner, message.stanza, message.stamp]);
      return true;
    }
    // One statement: the count and the insert see the same rows.
    const n = await this.db.run(
      'INSERT INTO offline (owner, stanza, stamp) SELECT ?, ?, ? WHERE (SELECT count(*) FROM offline WHERE owner = ?) < ?',
      [owner, message.stanza, message.stamp, owner, max],
    );
    return n > 0;
  }

  async takeAll(owner: string): Promise<OfflineMessage[]> {
    return (await this.#take.get(owner, undefined)) ?? [];
  }

  /**
   * Takes of one moment (a burst of logins), one statement. Not shared: of two sessions of one
   * user in the same batch, the first gets the messages and the second none.
   */
  readonly #take = new BatchedReads<string, undefined, OfflineMessage[]>({
    shared: false,
    load: async (owners) => {
      const owner = this.db.keyIn('owner', owners);
      const rows = await this.db.all<{ owner: string; id: number; stanza: string; stamp: number }>(`DELETE FROM offline WHERE ${owner.sql} RETURNING owner, id, stanza, stamp`, owner.params);
      rows.sort((a, b) => Number(a.id) - Number(b.id));
      const out = new Map<string, OfflineMessage[]>();
      for (const r of rows) {
        let list = out.get(r.owner);
        if (!list) out.set(r.owner, (list = []));
        list.push({ stanza: r.stanza, stamp: Number(r.stamp) });
      }
      return out;
    },
  });

  async count(owner: string): Promise<number> {
    return Number((await this.db.get<{ n: number }>('SELECT count(*) AS n FROM offline WHERE owner = ?', [owner]))?.n ?? 0);
  }
}
