/**
 * Rosters (RFC 6121 §2) in SQLite, with a write-through cache of the rosters of users who are
 * online (presence broadcast reads them on every presence change).
 */
import type { Db } from '../../storage/database.js';

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  contact: string;
  name?: string;
  subscription: Subscription;
  /** We asked to see the contact's presence (pending out). */
  ask: boolean;
  /** The contact asked to see our presence and we have not answered (pending in). */
  pendingIn: boolean;
  /** Whether the user has this contact in their roster (a bare pending-in is not a roster item). */
  inRoster: boolean;
  groups: string[];
}

interface Row {
  contact: string;
  name: string | null;
  subscription: Subscription;
  ask: number;
  pending_in: number;
  in_roster: number;
  groups: string;
}

export class RosterStore {
  readonly #cache = new Map<string, Map<string, RosterItem>>();
  readonly #stmts;

  constructor(db: Db) {
    this.#stmts = {
      list: db.prepare<[string], Row>('SELECT contact, name, subscription, ask, pending_in, in_roster, groups FROM roster WHERE owner = ?'),
      upsert: db.prepare(
        `INSERT INTO roster (owner, contact, name, subscription, ask, pending_in, in_roster, groups)
         VALUES (@owner, @contact, @name, @subscription, @ask, @pending_in, @in_roster, @groups)
         ON CONFLICT(owner, contact) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
           ask = excluded.ask, pending_in = excluded.pending_in, in_roster = excluded.in_roster, groups = excluded.groups`,
      ),
      remove: db.prepare<[string, string]>('DELETE FROM roster WHERE owner = ? AND contact = ?'),
    };
  }

  /** The whole roster (including bare pending-in entries). */
  items(owner: string): Map<string, RosterItem> {
    let items = this.#cache.get(owner);
    if (!items) {
      items = new Map(this.#stmts.list.all(owner).map((r) => [r.contact, fromRow(r)]));
      this.#cache.set(owner, items);
    }
    return items;
  }

  get(owner: string, contact: string): RosterItem | undefined {
    return this.items(owner).get(contact);
  }

  put(owner: string, item: RosterItem): void {
    if (item.subscription === 'none' && !item.ask && !item.pendingIn && !item.inRoster) {
      this.remove(owner, item.contact);
      return;
    }
    this.#stmts.upsert.run({
      owner,
      contact: item.contact,
      name: item.name ?? null,
      subscription: item.subscription,
      ask: item.ask ? 1 : 0,
      pending_in: item.pendingIn ? 1 : 0,
      in_roster: item.inRoster ? 1 : 0,
      groups: JSON.stringify(item.groups),
    });
    this.items(owner).set(item.contact, item);
  }

  remove(owner: string, contact: string): void {
    this.#stmts.remove.run(owner, contact);
    this.#cache.get(owner)?.delete(contact);
  }

  /** Contacts allowed to see `owner`'s presence (subscription from/both). */
  subscribers(owner: string): string[] {
    const out: string[] = [];
    for (const item of this.items(owner).values()) if (item.subscription === 'from' || item.subscription === 'both') out.push(item.contact);
    return out;
  }

  /** Contacts whose presence `owner` may see (subscription to/both). */
  subscriptions(owner: string): string[] {
    const out: string[] = [];
    for (const item of this.items(owner).values()) if (item.subscription === 'to' || item.subscription === 'both') out.push(item.contact);
    return out;
  }

  /** Forgets the cached roster of a user who went offline. */
  evict(owner: string): void {
    this.#cache.delete(owner);
  }
}

function fromRow(r: Row): RosterItem {
  return {
    contact: r.contact,
    name: r.name ?? undefined,
    subscription: r.subscription,
    ask: r.ask === 1,
    pendingIn: r.pending_in === 1,
    inRoster: r.in_roster === 1,
    groups: JSON.parse(r.groups) as string[],
  };
}
