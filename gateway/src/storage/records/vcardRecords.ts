/** vCards (XEP-0054) and the hash of their photo (XEP-0153). */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface VCardRow {
  vcard: string;
  photoHash?: string;
}

export interface VCardRecords {
  get(owner: string): Promise<VCardRow | undefined>;
  put(owner: string, row: VCardRow): Promise<void>;
}

export class SqlVCardRecords implements VCardRecords {
  constructor(private readonly db: SqlDatabase) {}

  async get(owner: string): Promise<VCardRow | undefined> {
    const row = await this.db.get<{ vcard: string; photo_hash: string | null }>('SELECT vcard, photo_hash FROM vcards WHERE owner = ?', [owner]);
    return row && { vcard: row.vcard, photoHash: row.photo_hash ?? undefined };
  }

  async put(owner: string, row: VCardRow): Promise<void> {
    await this.db.run(
      'INSERT INTO vcards (owner, vcard, photo_hash) VALUES (?, ?, ?) ON CONFLICT (owner) DO UPDATE SET vcard = excluded.vcard, photo_hash = excluded.photo_hash',
      [owner, row.vcard, row.photoHash ?? null],
    );
  }
}
