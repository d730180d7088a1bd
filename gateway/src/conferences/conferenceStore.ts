/** Meetings and who owns them (SQLite). The media side of a meeting lives on an SFU node. */
import crypto from 'node:crypto';
import type { Db } from '../storage/database.js';

export interface Conference {
  name: string;
  owner: string;
  title: string;
  createdAt: number;
}

const LETTERS = 'abcdefghijkmnopqrstuvwxyz'; // no l: it reads like 1 and I

/** A fresh unguessable name in the style of meeting links: abc-defg-hij (10 letters of 25, ~46 bits). */
export function randomConferenceName(): string {
  const bytes = crypto.randomBytes(10);
  const pick = (from: number, count: number) =>
    Array.from(bytes.subarray(from, from + count), (b) => LETTERS[b % LETTERS.length]).join('');
  return `${pick(0, 3)}-${pick(3, 4)}-${pick(7, 3)}`;
}

interface Row {
  name: string;
  owner: string;
  title: string;
  created_at: number;
}

const toConference = (r: Row): Conference => ({ name: r.name, owner: r.owner, title: r.title, createdAt: r.created_at });

export class ConferenceStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  get(name: string): Conference | undefined {
    const row = this.#db.prepare('SELECT * FROM conferences WHERE name = ?').get(name) as Row | undefined;
    return row ? toConference(row) : undefined;
  }

  /** Creates the meeting unless it exists; returns the stored one either way. */
  ensure(name: string, owner: string, title: string, now = Date.now()): Conference {
    this.#db
      .prepare('INSERT INTO conferences (name, owner, title, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO NOTHING')
      .run(name, owner, title, now);
    return this.get(name)!;
  }

  ownedBy(owner: string, limit = 20): Conference[] {
    return (
      this.#db
        .prepare('SELECT * FROM conferences WHERE owner = ? ORDER BY created_at DESC LIMIT ?')
        .all(owner, limit) as Row[]
    ).map(toConference);
  }

  countCreatedSince(owner: string, since: number): number {
    return (
      this.#db.prepare('SELECT COUNT(*) AS n FROM conferences WHERE owner = ? AND created_at >= ?').get(owner, since) as {
        n: number;
      }
    ).n;
  }
}
