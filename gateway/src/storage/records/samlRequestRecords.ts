/**
 * SAML AuthnRequest ids this service provider sent that no response has used yet: a response's
 * InResponseTo must name one (and takes it), so a replayed response, or one nobody asked for,
 * is refused — on whichever gateway node it arrives.
 */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface SamlRequestRecords {
  save(id: string, now: number): Promise<void>;
  /** Whether the id was waiting (and is no longer: one use). */
  take(id: string, notBefore: number): Promise<boolean>;
  /** When a waiting id was saved, or undefined. */
  createdAt(id: string): Promise<number | undefined>;
  purge(before: number): Promise<number>;
}

export class SqlSamlRequestRecords implements SamlRequestRecords {
  constructor(private readonly db: SqlDatabase) {}

  async save(id: string, now: number): Promise<void> {
    await this.db.run('INSERT INTO saml_requests (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', [id, now]);
  }

  async take(id: string, notBefore: number): Promise<boolean> {
    return (await this.db.run('DELETE FROM saml_requests WHERE id = ? AND created_at >= ?', [id, notBefore])) > 0;
  }

  async createdAt(id: string): Promise<number | undefined> {
    const row = await this.db.get<{ created_at: number }>('SELECT created_at FROM saml_requests WHERE id = ?', [id]);
    return row ? Number(row.created_at) : undefined;
  }

  purge(before: number): Promise<number> {
    return this.db.run('DELETE FROM saml_requests WHERE created_at < ?', [before]);
  }
}
