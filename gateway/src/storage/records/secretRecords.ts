/**
 * Server secrets that every gateway on the database must share (the key that signs sessions'
 * SIP credentials, guest links, embed keys, upload links). The first gateway to start creates
 * one; an insert that loses the race simply reads the winner's.
 */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface SecretRecords {
  /** The secret called `name`: the stored one, or `candidate` if none was stored yet. */
  getOrCreate(name: string, candidate: string): Promise<string>;
}

export class SqlSecretRecords implements SecretRecords {
  constructor(private readonly db: SqlDatabase) {}

  async getOrCreate(name: string, candidate: string): Promise<string> {
    await this.db.run('INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', [name, candidate, Date.now()]);
    const row = await this.db.get<{ value: string }>('SELECT value FROM secrets WHERE name = ?', [name]);
    if (!row) throw new Error(`secret ${name} could not be stored`);
    return row.value;
  }
}
