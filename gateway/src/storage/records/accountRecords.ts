/** Accounts and the secrets each sign-in mechanism checks (never a password itself). */
import { BatchedReads } from '../sql/batchedReads.js';
import type { SqlDatabase } from '../sql/sqlDatabase.js';

export interface AccountSecrets {
  realm: string;
  passwordHash: string;
  ha1Md5: string;
  ha1Sha256: string;
  /** JSON of the SCRAM credentials. */
  scramSha1: string;
  scramSha256: string;
}

export interface AccountRow extends AccountSecrets {
  username: string;
  displayName: string;
  createdAt: number;
  /** The identity provider the account was made for at its first sign-in (undefined: local). */
  provider?: string;
}

/** An account as listed and shown (no secrets). */
export interface AccountSummary {
  username: string;
  displayName: string;
  createdAt: number;
  provider?: string;
  /** Set while an operator has disabled the account: no sign-in of any kind. */
  disabledAt?: number;
}

/** An account and the secrets the SIP and XMPP hot paths check. */
export interface SignInRecord {
  account: AccountSummary;
  ha1Md5?: string;
  ha1Sha256?: string;
  /** JSON of the SCRAM credentials. */
  scramSha1: string;
  scramSha256: string;
}

export type AccountSecretField = 'passwordHash' | 'ha1Md5' | 'ha1Sha256' | 'scramSha1' | 'scramSha256';

export interface AccountRecords {
  /** Throws UniqueViolation when the name is taken (the database decides, not a lookup first). */
  insert(row: AccountRow): Promise<void>;
  get(username: string): Promise<AccountSummary | undefined>;
  list(): Promise<AccountSummary[]>;
  delete(username: string): Promise<boolean>;
  setSecrets(username: string, secrets: AccountSecrets): Promise<boolean>;
  setDisplayName(username: string, displayName: string): Promise<boolean>;
  /** Disables (a time) or enables (undefined) the account; false when there is none. */
  setDisabled(username: string, at: number | undefined): Promise<boolean>;
  /**
   * The account with what SIP digest and XMPP SCRAM check (the HA1s only when made for
   * `realm`), in one read: a REGISTER, an INVITE or an XMPP login on a cold cache costs one
   * query, not two or three.
   */
  getForSignIn(username: string, realm: string): Promise<SignInRecord | undefined>;
  /** One secret; `realm` must match for the HA1 fields (they depend on it). */
  secret(username: string, field: AccountSecretField, realm?: string): Promise<string | undefined>;
  countForOtherRealms(realm: string): Promise<number>;
}

const COLUMN: Record<AccountSecretField, string> = {
  passwordHash: 'password_hash',
  ha1Md5: 'ha1_md5',
  ha1Sha256: 'ha1_sha256',
  scramSha1: 'scram_sha1',
  scramSha256: 'scram_sha256',
};

interface Row {
  username: string;
  display_name: string;
  created_at: number;
  provider: string | null;
  disabled_at: number | null;
}

const SUMMARY = 'username, display_name, created_at, provider, disabled_at';

const toAccount = (r: Row): AccountSummary => ({
  username: r.username,
  displayName: r.display_name,
  createdAt: Number(r.created_at),
  ...(r.provider && { provider: r.provider }),
  ...(r.disabled_at !== null && r.disabled_at !== undefined && { disabledAt: Number(r.disabled_at) }),
});

export class SqlAccountRecords implements AccountRecords {
  constructor(private readonly db: SqlDatabase) {}

  async insert(row: AccountRow): Promise<void> {
    await this.db.run(
      `INSERT INTO accounts (username, display_name, realm, password_hash, ha1_md5, ha1_sha256, scram_sha1, scram_sha256, created_at, provider)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [row.username, row.displayName, row.realm, row.passwordHash, row.ha1Md5, row.ha1Sha256, row.scramSha1, row.scramSha256, row.createdAt, row.provider ?? null],
    );
    await this.db.notify(`accounts:${row.username}`);
  }

  async get(username: string) {
    const row = await this.db.get<Row & Record<string, unknown>>(`SELECT ${SUMMARY} FROM accounts WHERE username = ?`, [username]);
    return row && toAccount(row);
  }

  async list() {
    return (await this.db.all<Row & Record<string, unknown>>(`SELECT ${SUMMARY} FROM accounts ORDER BY username`)).map(toAccount);
  }

  async delete(username: string): Promise<boolean> {
    const n = await this.db.run('DELETE FROM accounts WHERE username = ?', [username]);
    await this.db.notify(`accounts:${username}`);
    return n > 0;
  }

  async setSecrets(username: string, s: AccountSecrets): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE accounts SET realm = ?, password_hash = ?, ha1_md5 = ?, ha1_sha256 = ?, scram_sha1 = ?, scram_sha256 = ? WHERE username = ?`,
      [s.realm, s.passwordHash, s.ha1Md5, s.ha1Sha256, s.scramSha1, s.scramSha256, username],
    );
    await this.db.notify(`accounts:${username}`);
    return n > 0;
  }

  async setDisplayName(username: string, displayName: string): Promise<boolean> {
    const n = await this.db.run('UPDATE accounts SET display_name = ? WHERE username = ?', [displayName, username]);
    await this.db.notify(`accounts:${username}`);
    return n > 0;
  }

  async setDisabled(username: string, at: number | undefined): Promise<boolean> {
    const n = await this.db.run('UPDATE accounts SET disabled_at = ? WHERE username = ?', [at ?? null, username]);
    await this.db.notify(`accounts:${username}`);
    return n > 0;
  }

  getForSignIn(username: string, realm: string): Promise<SignInRecord | undefined> {
    return this.#signIn.get(username, realm);
  }

  /** Cold sign-in reads of one moment, one query (a burst of REGISTERs or logins). */
  readonly #signIn = new BatchedReads<string, string, SignInRecord>({
    load: async (usernames, realms) => {
      type SignInRow = Row & { realm: string; ha1_md5: string; ha1_sha256: string; scram_sha1: string; scram_sha256: string } & Record<string, unknown>;
      const user = this.db.keyIn('username', usernames);
      const rows = await this.db.all<SignInRow>(`SELECT ${SUMMARY}, realm, ha1_md5, ha1_sha256, scram_sha1, scram_sha256 FROM accounts WHERE ${user.sql}`, user.params);
      const wanted = new Map(usernames.map((u, i) => [u, realms[i]]));
      const out = new Map<string, SignInRecord>();
      for (const row of rows) {
        const sameRealm = row.realm === wanted.get(row.username);
        out.set(row.username, {
          account: toAccount(row),
          ha1Md5: sameRealm ? row.ha1_md5 : undefined,
          ha1Sha256: sameRealm ? row.ha1_sha256 : undefined,
          scramSha1: row.scram_sha1,
          scramSha256: row.scram_sha256,
        });
      }
      return out;
    },
  });

  async secret(username: string, field: AccountSecretField, realm?: string): Promise<string | undefined> {
    const column = COLUMN[field];
    const row =
      realm === undefined
        ? await this.db.get<{ v: string }>(`SELECT ${column} AS v FROM accounts WHERE username = ?`, [username])
        : await this.db.get<{ v: string }>(`SELECT ${column} AS v FROM accounts WHERE username = ? AND realm = ?`, [username, realm]);
    return row?.v;
  }

  async countForOtherRealms(realm: string): Promise<number> {
    return Number((await this.db.get<{ n: number }>('SELECT count(*) AS n FROM accounts WHERE realm <> ?', [realm]))?.n ?? 0);
  }
}
