/** Web sign-in sessions, kept by the hash of their token. */
import { BatchedReads } from '../sql/batchedReads.js';
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface SessionRow {
  idHash: string;
  username: string;
  createdAt: number;
  expiresAt: number;
  userAgent?: string;
  /** The identity provider this session signed in through, if any. */
  provider?: string;
  /** What that provider's logout needs (JSON: an id_token hint, a SAML NameID …). */
  idpLogout?: string;
}

export interface SessionRecords {
  insert(row: SessionRow): Promise<void>;
  /** The session, if it has not expired by `now`. */
  get(idHash: string, now: number): Promise<SessionRow | undefined>;
  /** Deletes one session; resolves to its user, if it existed. */
  delete(idHash: string): Promise<string | undefined>;
  deleteAllFor(username: string): Promise<number>;
  liveFor(username: string, now: number): Promise<Array<Pick<SessionRow, 'idHash' | 'expiresAt'>>>;
  purgeExpired(now: number): Promise<number>;
}

export class SqlSessionRecords implements SessionRecords {
  constructor(private readonly db: SqlDatabase) {}

  async insert(row: SessionRow): Promise<void> {
    await this.db.run('INSERT INTO sessions (id_hash, username, created_at, expires_at, user_agent, provider, idp_logout) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      row.idHash,
      row.username,
      row.createdAt,
      row.expiresAt,
      row.userAgent ?? null,
      row.provider ?? null,
      row.idpLogout ?? null,
    ]);
    await this.db.notify(`sessions:${row.username}`);
  }

  async get(idHash: string, now: number): Promise<SessionRow | undefined> {
    const row = await this.db.get<{ username: string; created_at: number; expires_at: number; provider: string | null; idp_logout: string | null }>(
      'SELECT username, created_at, expires_at, provider, idp_logout FROM sessions WHERE id_hash = ? AND expires_at > ?',
      [idHash, now],
    );
    return (
      row && {
        idHash,
        username: row.username,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
        ...(row.provider && { provider: row.provider }),
        ...(row.idp_logout && { idpLogout: row.idp_logout }),
      }
    );
  }

  async delete(idHash: string): Promise<string | undefined> {
    const rows = await this.db.all<{ username: string }>('DELETE FROM sessions WHERE id_hash = ? RETURNING username', [idHash]);
    const user = rows[0]?.username;
    if (user) await this.db.notify(`sessions:${user}`);
    return user;
  }

  async deleteAllFor(username: string): Promise<number> {
    const n = await this.db.run('DELETE FROM sessions WHERE username = ?', [username]);
    await this.db.notify(`sessions:${username}`);
    return n;
  }

  async liveFor(username: string, now: number) {
    const rows = (await this.#ofUsers.get(username, undefined)) ?? [];
    return rows.filter((r) => r.expiresAt > now);
  }

  /**
   * Cold credential reads of one moment, one query. Expired rows (until the purge removes
   * them) are left out by each caller against its own `now`.
   */
  readonly #ofUsers = new BatchedReads<string, undefined, Array<{ idHash: string; expiresAt: number }>>({
    load: async (usernames) => {
      const user = this.db.keyIn('username', usernames);
      const rows = await this.db.all<{ username: string; id_hash: string; expires_at: number }>(`SELECT username, id_hash, expires_at FROM sessions WHERE ${user.sql}`, user.params);
      const out = new Map<string, Array<{ idHash: string; expiresAt: number }>>();
      for (const r of rows) {
        let list = out.get(r.username);
        if (!list) out.set(r.username, (list = []));
        list.push({ idHash: r.id_hash, expiresAt: Number(r.expires_at) });
      }
      return out;
    },
  });

  async purgeExpired(now: number): Promise<number> {
    return this.db.run('DELETE FROM sessions WHERE expires_at <= ?', [now]);
  }
}
