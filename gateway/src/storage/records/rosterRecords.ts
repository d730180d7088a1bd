/**
 * Rosters (RFC 6121 §2): one row per (owner, contact) with the subscription state both ways.
 * Changes that read and then write go through `modify`, which locks the rows it reads until it
 * commits, so two devices (or two gateways) changing the same items at once cannot overwrite
 * each other's change.
 */
import { BatchedReads } from '../sql/batchedReads.js';
import { asBoolean, type SqlDatabase, type SqlExecutor } from '../sql/sqlDatabase.js';

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

/** An item to read and maybe change in `modify`. */
export interface RosterKey {
  owner: string;
  contact: string;
}

export interface RosterRecords {
  /** The whole roster of `owner` (bare pending-in entries included). */
  list(owner: string): Promise<RosterItem[]>;
  put(owner: string, item: RosterItem): Promise<void>;
  remove(owner: string, contact: string): Promise<void>;
  /**
   * Reads the items at `keys` (missing ones as undefined), lets `change` decide their new state
   * (undefined: leave it; an empty item is removed) and writes it, all in one transaction with
   * the rows locked. Resolves to what `change` returned beside the writes.
   */
  modify<T>(
    keys: RosterKey[],
    change: (items: Array<RosterItem | undefined>) => { writes: Array<RosterItem | undefined>; result: T },
  ): Promise<T>;
}

/** An item that records nothing (no subscription, nothing pending, not in the roster) is not kept. */
export function isEmptyItem(item: RosterItem): boolean {
  return item.subscription === 'none' && !item.ask && !item.pendingIn && !item.inRoster;
}

const COLUMNS = 'contact, name, subscription, ask, pending_in, in_roster, groups';

interface Row {
  contact: string;
  name: string | null;
  subscription: Subscription;
  ask: unknown;
  pending_in: unknown;
  in_roster: unknown;
  groups: string;
}

export class SqlRosterRecords implements RosterRecords {
  constructor(private readonly db: SqlDatabase) {}

  async list(owner: string): Promise<RosterItem[]> {
    return (await this.#lists.get(owner, undefined)) ?? [];
  }

  /** Rosters loaded at one moment (a burst of logins), one query. */
  readonly #lists = new BatchedReads<string, undefined, RosterItem[]>({
    load: async (owners) => {
      const owner = this.db.keyIn('owner', owners);
      const rows = await this.db.all<Row & { owner: string } & Record<string, unknown>>(`SELECT owner, ${COLUMNS} FROM roster WHERE ${owner.sql}`, owner.params);
      const out = new Map<string, RosterItem[]>();
      for (const r of rows) {
        let list = out.get(r.owner);
        if (!list) out.set(r.owner, (list = []));
        list.push(fromRow(r));
      }
      return out;
    },
  });

  async put(owner: string, item: RosterItem): Promise<void> {
    await write(this.db, owner, item);
    await this.db.notify(`roster:${owner}`);
  }

  async remove(owner: string, contact: string): Promise<void> {
    await this.db.run('DELETE FROM roster WHERE owner = ? AND contact = ?', [owner, contact]);
    await this.db.notify(`roster:${owner}`);
  }

  async modify<T>(
    keys: RosterKey[],
    change: (items: Array<RosterItem | undefined>) => { writes: Array<RosterItem | undefined>; result: T },
  ): Promise<T> {
    // Rows are locked in one order everywhere (owner, then contact), so two transactions
    // over the same pair of rosters never wait for each other in a circle.
    const order = keys.map((k, i) => ({ k, i })).sort((a, b) => a.k.owner.localeCompare(b.k.owner) || a.k.contact.localeCompare(b.k.contact));
    return this.db.transaction(async (tx) => {
      const items: Array<RosterItem | undefined> = new Array(keys.length);
      for (const { k, i } of order) {
        // A row for an item that does not exist yet, so there is something to lock; it goes
        // again below if it stays empty.
        await tx.run(
          `INSERT INTO roster (owner, contact, subscription, ask, pending_in, in_roster, groups) VALUES (?, ?, 'none', ?, ?, ?, '[]')
           ON CONFLICT (owner, contact) DO NOTHING`,
          [k.owner, k.contact, false, false, false],
        );
        const row = await tx.get<Row & Record<string, unknown>>(`SELECT ${COLUMNS} FROM roster WHERE owner = ? AND contact = ?${this.db.forUpdate}`, [k.owner, k.contact]);
        const item = row && fromRow(row);
        items[i] = item && !isEmptyItem(item) ? item : undefined;
      }
      const { writes, result } = change(items);
      const owners = new Set<string>();
      for (const { k, i } of order) {
        const next = writes[i] ?? items[i];
        if (next && !isEmptyItem(next)) await write(tx, k.owner, { ...next, contact: k.contact });
        else await tx.run('DELETE FROM roster WHERE owner = ? AND contact = ?', [k.owner, k.contact]);
        if (writes[i]) owners.add(k.owner);
      }
      for (const owner of owners) await tx.notify(`roster:${owner}`);
      return result;
    });
  }
}

async function write(on: SqlExecutor, owner: string, item: RosterItem): Promise<void> {
  if (isEmptyItem(item)) {
    await on.run('DELETE FROM roster WHERE owner = ? AND contact = ?', [owner, item.contact]);
    return;
  }
  await on.run(
    `INSERT INTO roster (owner, contact, name, subscription, ask, pending_in, in_roster, groups) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
       ask = excluded.ask, pending_in = excluded.pending_in, in_roster = excluded.in_roster, groups = excluded.groups`,
    [owner, item.contact, item.name ?? null, item.subscription, item.ask, item.pendingIn, item.inRoster, JSON.stringify(item.groups)],
  );
}

function fromRow(r: Row): RosterItem {
  return {
    contact: r.contact,
    name: r.name ?? undefined,
    subscription: r.subscription,
    ask: asBoolean(r.ask),
    pendingIn: asBoolean(r.pending_in),
    inRoster: asBoolean(r.in_roster),
    groups: JSON.parse(r.groups) as string[],
  };
}
