/** Meetings and who owns them. The media side of a meeting lives on an SFU node. */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface Conference {
  name: string;
  owner: string;
  title: string;
  createdAt: number;
}

export interface ConferenceRecords {
  get(name: string): Promise<Conference | undefined>;
  /** Creates the meeting; resolves to undefined when the name is taken (the key decides). */
  create(name: string, owner: string, title: string, now?: number): Promise<Conference | undefined>;
  /** Creates the meeting unless it exists (whoever inserts first owns it); resolves to the stored one. */
  ensure(name: string, owner: string, title: string, now?: number): Promise<Conference>;
  ownedBy(owner: string, limit?: number): Promise<Conference[]>;
  countCreatedSince(owner: string, since: number): Promise<number>;
}

interface Row {
  name: string;
  owner: string;
  title: string;
  created_at: number;
}

const toConference = (r: Row): Conference => ({ name: r.name, owner: r.owner, title: r.title, createdAt: Number(r.created_at) });

export class SqlConferenceRecords implements ConferenceRecords {
  constructor(private readonly db: SqlDatabase) {}

  async get(name: string): Promise<Conference | undefined> {
    const row = await this.db.get<Row & Record<string, unknown>>('SELECT name, owner, title, created_at FROM conferences WHERE name = ?', [name]);
    return row && toConference(row);
  }

  async create(name: string, owner: string, title: string, now = Date.now()): Promise<Conference | undefined> {
    const inserted = await this.db.all<Row & Record<string, unknown>>(
      'INSERT INTO conferences (name, owner, title, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name, owner, title, created_at',
      [name, owner, title, now],
    );
    return inserted[0] && toConference(inserted[0]);
  }

  async ensure(name: string, owner: string, title: string, now = Date.now()): Promise<Conference> {
    const created = await this.create(name, owner, title, now);
    if (created) return created;
    const existing = await this.get(name);
    if (!existing) throw new Error(`meeting ${name} vanished while it was being created`);
    return existing;
  }

  async ownedBy(owner: string, limit = 20): Promise<Conference[]> {
    const rows = await this.db.all<Row & Record<string, unknown>>(
      'SELECT name, owner, title, created_at FROM conferences WHERE owner = ? ORDER BY created_at DESC LIMIT ?',
      [owner, limit],
    );
    return rows.map(toConference);
  }

  async countCreatedSince(owner: string, since: number): Promise<number> {
    return Number((await this.db.get<{ n: number }>('SELECT count(*) AS n FROM conferences WHERE owner = ? AND created_at >= ?', [owner, since]))?.n ?? 0);
  }
}
