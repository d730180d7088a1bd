/**
 * Who an identity provider says a user is (an OpenID Connect issuer + `sub`, or a SAML IdP's
 * entity id + NameID / a persistent attribute) → the Parley account made at their first sign-in.
 */
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface IdentityRecords {
  /** The account linked to this identity, noting the sign-in. */
  find(provider: string, subject: string, now: number): Promise<string | undefined>;
  /** Throws UniqueViolation when the identity is linked already (two first sign-ins at once). */
  link(provider: string, subject: string, username: string, now: number): Promise<void>;
}

export class SqlIdentityRecords implements IdentityRecords {
  constructor(private readonly db: SqlDatabase) {}

  async find(provider: string, subject: string, now: number): Promise<string | undefined> {
    const row = await this.db.get<{ username: string }>('SELECT username FROM external_identities WHERE provider = ? AND subject = ?', [provider, subject]);
    if (row) await this.db.run('UPDATE external_identities SET last_login_at = ? WHERE provider = ? AND subject = ?', [now, provider, subject]);
    return row?.username;
  }

  async link(provider: string, subject: string, username: string, now: number): Promise<void> {
    await this.db.run('INSERT INTO external_identities (provider, subject, username, created_at, last_login_at) VALUES (?, ?, ?, ?, ?)', [
      provider,
      subject,
      username,
      now,
      now,
    ]);
  }
}
