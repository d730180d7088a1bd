/**
 * App passwords: one per device a user set up (a desk phone, an XMPP client), with what SIP
 * digest and XMPP SCRAM check — never the password itself.
 */
import { BatchedReads } from '../sql/batchedReads.js';
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export type AppPasswordScope = 'sip' | 'xmpp';

export interface AppPasswordRow {
  id: string;
  username: string;
  label: string;
  scopes: AppPasswordScope[];
  /** The SIP realm the HA1 values were made for (they depend on it). */
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
  /** JSON of the SCRAM credentials (with the account's salts). */
  scramSha1: string;
  scramSha256: string;
  createdAt: number;
  lastUsedAt?: number;
  /** What used it last: "SIP from 192.0.2.1", "XMPP from …". */
  lastUsedBy?: string;
}

export interface AppPasswordRecords {
  insert(row: AppPasswordRow): Promise<void>;
  /** Every app password of a user, newest first. */
  listFor(username: string): Promise<AppPasswordRow[]>;
  /** False when the user has no such app password. */
  delete(username: string, id: string): Promise<boolean>;
  markUsed(id: string, at: number, by: string): Promise<void>;
}

const SCOPES: readonly AppPasswordScope[] = ['sip', 'xmpp'];

const fromRow = (r: Record<string, unknown>): AppPasswordRow => ({
  id: String(r.id),
  username: String(r.username),
  label: String(r.label),
  scopes: String(r.scopes)
    .split(',')
    .filter((s): s is AppPasswordScope => (SCOPES as readonly string[]).includes(s)),
  realm: String(r.realm),
  ha1Md5: String(r.ha1_md5),
  ha1Sha256: String(r.ha1_sha256),
  scramSha1: String(r.scram_sha1),
  scramSha256: String(r.scram_sha256),
  createdAt: Number(r.created_at),
  ...(r.last_used_at != null && { lastUsedAt: Number(r.last_used_at) }),
  ...(r.last_used_by != null && { lastUsedBy: String(r.last_used_by) }),
});

export class SqlAppPasswordRecords implements AppPasswordRecords {
  constructor(private readonly db: SqlDatabase) {}

  async insert(row: AppPasswordRow): Promise<void> {
    await this.db.run(
      `INSERT INTO app_passwords (id, username, label, scopes, realm, ha1_md5, ha1_sha256, scram_sha1, scram_sha256, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [row.id, row.username, row.label, row.scopes.join(','), row.realm, row.ha1Md5, row.ha1Sha256, row.scramSha1, row.scramSha256, row.createdAt],
    );
    await this.db.notify(`apppasswords:${row.username}`);
  }

  async listFor(username: string): Promise<AppPasswordRow[]> {
    return (await this.#ofUsers.get(username, undefined)) ?? [];
  }

  /** Cold lookups of one event-loop turn in one query (a REGISTER storm asks for thousands of users). */
  readonly #ofUsers = new BatchedReads<string, undefined, AppPasswordRow[]>({
    load: async (usernames) => {
      const user = this.db.keyIn('username', usernames);
      const rows = await this.db.all(`SELECT * FROM app_passwords WHERE ${user.sql} ORDER BY created_at DESC, id`, user.params);
      const out = new Map<string, AppPasswordRow[]>();
      for (const r of rows.map(fromRow)) {
        let list = out.get(r.username);
        if (!list) out.set(r.username, (list = []));
        list.push(r);
      }
      return out;
    },
  });

  async delete(username: string, id: string): Promise<boolean> {
    const n = await this.db.run('DELETE FROM app_passwords WHERE id = ? AND username = ?', [id, username]);
    if (n > 0) await this.db.notify(`apppasswords:${username}`);
    return n > 0;
  }

  async markUsed(id: string, at: number, by: string): Promise<void> {
    // No notice: when it was last used is shown on request, not cached anywhere.
    await this.db.run('UPDATE app_passwords SET last_used_at = ?, last_used_by = ? WHERE id = ?', [at, by.slice(0, 200), id]);
  }
}
