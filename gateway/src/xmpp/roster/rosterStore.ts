/**
 * Rosters (RFC 6121 §2) over the storage layer's roster records, with a cache of the rosters
 * presence broadcast reads on every presence change. Changes go through `modify` (the rows
 * are locked while a change is decided), and every gateway drops its cached copy when any of
 * them changes a roster (`roster:<owner>` notices).
 */
import type { RosterItem, RosterKey, RosterRecords } from '../../storage/records/rosterRecords.js';
import type { SqlDatabase } from '../../storage/sql/sqlDatabase.js';

export type { RosterItem, Subscription } from '../../storage/records/rosterRecords.js';

type Roster = Map<string, RosterItem>;

/** Most rosters kept in memory; beyond this the cache is cleared (it refills on demand). */
const CACHE_LIMIT = 100_000;

export class RosterStore {
  readonly #records: RosterRecords;
  readonly #cache = new Map<string, Promise<Roster>>();
  readonly #stopListening: () => void;

  constructor(records: RosterRecords, db: Pick<SqlDatabase, 'onChange'>) {
    this.#records = records;
    this.#stopListening = db.onChange((topic) => {
      if (topic === '*') this.#cache.clear();
      else if (topic.startsWith('roster:')) this.#cache.delete(topic.slice('roster:'.length));
    });
  }

  /** The whole roster (including bare pending-in entries). */
  items(owner: string): Promise<Roster> {
    let roster = this.#cache.get(owner);
    if (!roster) {
      const loading = this.#records.list(owner).then((items) => new Map(items.map((i) => [i.contact, i])));
      // A failed read is not remembered.
      loading.catch(() => this.#cache.get(owner) === loading && this.#cache.delete(owner));
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(owner, loading);
      roster = loading;
    }
    return roster;
  }

  async get(owner: string, contact: string): Promise<RosterItem | undefined> {
    return (await this.items(owner)).get(contact);
  }

  /**
   * Reads the items at `keys`, lets `change` decide their new state and writes it in one
   * transaction (see RosterRecords.modify); the owners' cached rosters are refreshed after.
   */
  async modify<T>(
    keys: RosterKey[],
    change: (items: Array<RosterItem | undefined>) => { writes: Array<RosterItem | undefined>; result: T },
  ): Promise<T> {
    try {
      return await this.#records.modify(keys, change);
    } finally {
      for (const k of keys) this.#cache.delete(k.owner);
    }
  }

  /** Contacts allowed to see `owner`'s presence (subscription from/both). */
  async subscribers(owner: string): Promise<string[]> {
    const out: string[] = [];
    for (const item of (await this.items(owner)).values()) if (item.subscription === 'from' || item.subscription === 'both') out.push(item.contact);
    return out;
  }

  /** Contacts whose presence `owner` may see (subscription to/both). */
  async subscriptions(owner: string): Promise<string[]> {
    const out: string[] = [];
    for (const item of (await this.items(owner)).values()) if (item.subscription === 'to' || item.subscription === 'both') out.push(item.contact);
    return out;
  }

  /** Forgets the cached roster of a user who went offline. */
  evict(owner: string): void {
    this.#cache.delete(owner);
  }

  close(): void {
    this.#stopListening();
  }
}
