/**
 * Embed keys an operator issued (`parley embed-key`): the signed key names its id, and the
 * record says whether it still counts, so a key can be listed and revoked before it expires.
 */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface EmbedKeyRow {
  id: string;
  origins: string[];
  rooms: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
}

export interface EmbedKeyRecords {
  insert(row: Omit<EmbedKeyRow, 'revokedAt'>): Promise<void>;
  get(id: string): Promise<EmbedKeyRow | undefined>;
  list(): Promise<EmbedKeyRow[]>;
  /** False when there is no such key or it was revoked already. */
  revoke(id: string, now?: number): Promise<boolean>;
}

const fromRow = (r: Record<string, unknown>): EmbedKeyRow => ({
  id: String(r.id),
  origins: JSON.parse(String(r.origins)) as string[],
  rooms: String(r.rooms),
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at == null ? undefined : Number(r.revoked_at),
});

export class SqlEmbedKeyRecords implements EmbedKeyRecords {
  constructor(private readonly db: SqlDatabase) {}

  async insert(row: Omit<EmbedKeyRow, 'revokedAt'>): Promise<void> {
    await this.db.run('INSERT INTO embed_keys (id, origins, rooms, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
      row.id,
      JSON.stringify(row.origins),
      row.rooms,
      row.createdAt,
      row.expiresAt,
    ]);
  }

  async get(id: string): Promise<EmbedKeyRow | undefined> {
    const row = await this.db.get('SELECT * FROM embed_keys WHERE id = ?', [id]);
    return row && fromRow(row);
  }

  async list(): Promise<EmbedKeyRow[]> {
    return (await this.db.all('SELECT * FROM embed_keys ORDER BY created_at')).map(fromRow);
  }

  async revoke(id: string, now = Date.now()): Promise<boolean> {
    const n = await this.db.run('UPDATE embed_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id]);
    await this.db.notify(`embed_keys:${id}`);
    return n > 0;
  }
}
