/** Persistent group chat rooms (XEP-0045): configuration, affiliations and subject, as JSON. */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface MucRoomRow {
  jid: string;
  /** JSON texts, owned by the MUC service. */
  config: string;
  affiliations: string;
  subject?: string;
}

export interface MucRoomRecords {
  all(): Promise<MucRoomRow[]>;
  save(row: MucRoomRow): Promise<void>;
  delete(jid: string): Promise<void>;
}

export class SqlMucRoomRecords implements MucRoomRecords {
  constructor(private readonly db: SqlDatabase) {}

  async all(): Promise<MucRoomRow[]> {
    const rows = await this.db.all<{ jid: string; config: string; affiliations: string; subject: string | null }>(
      'SELECT jid, config, affiliations, subject FROM muc_rooms',
    );
    return rows.map((r) => ({ jid: r.jid, config: r.config, affiliations: r.affiliations, subject: r.subject ?? undefined }));
  }

  async save(row: MucRoomRow): Promise<void> {
    await this.db.run(
      `INSERT INTO muc_rooms (jid, config, affiliations, subject) VALUES (?, ?, ?, ?)
       ON CONFLICT (jid) DO UPDATE SET config = excluded.config, affiliations = excluded.affiliations, subject = excluded.subject`,
      [row.jid, row.config, row.affiliations, row.subject ?? null],
    );
  }

  async delete(jid: string): Promise<void> {
    await this.db.run('DELETE FROM muc_rooms WHERE jid = ?', [jid]);
  }
}
