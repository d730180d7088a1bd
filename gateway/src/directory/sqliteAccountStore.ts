/** AccountStore on the embedded SQLite database. */
import type { Db } from '../storage/database.js';
import {
  AccountError,
  normalizeUsername,
  validatePassword,
  validateUsername,
  type Account,
  type AccountStore,
  type NewAccount,
} from './accountStore.js';
import {
  computeHa1,
  computeScram,
  hashPassword,
  verifyPasswordHash,
  type DigestHash,
  type ScramCredentials,
  type ScramHash,
} from './passwords.js';

export interface SqliteAccountStoreOptions {
  db: Db;
  /** SIP digest realm (the Parley domain); HA1 values depend on it. */
  realm: string;
  passwordHashCost: number;
  scramIterations: number;
}

interface AccountRow {
  username: string;
  display_name: string;
  created_at: number;
}

/** What the SIP hot path needs about a user, cached in memory. */
interface CachedAccount {
  account: Account | undefined;
  ha1: Partial<Record<DigestHash, string>>;
}

/** Most users that stay cached; beyond this the cache is simply cleared (it refills on demand). */
const CACHE_LIMIT = 200_000;

interface Secrets {
  password_hash: string;
  ha1_md5: string;
  ha1_sha256: string;
  scram_sha1: string;
  scram_sha256: string;
}

export class SqliteAccountStore implements AccountStore {
  readonly #db: Db;
  readonly #realm: string;
  readonly #cost: number;
  readonly #iterations: number;
  readonly #stmts;
  /** A hash of a random password, verified for unknown users so timing does not reveal who exists. */
  #dummyHash: Promise<string> | undefined;
  /**
   * Every REGISTER and INVITE reads the account and its HA1; a map lookup is far cheaper than
   * SQLite. Our own writes update it; the CLI's writes clear it (see invalidateCache).
   */
  readonly #cache = new Map<string, CachedAccount>();

  constructor(options: SqliteAccountStoreOptions) {
    this.#db = options.db;
    this.#realm = options.realm;
    this.#cost = options.passwordHashCost;
    this.#iterations = options.scramIterations;
    const db = this.#db;
    this.#stmts = {
      insert: db.prepare(
        `INSERT INTO accounts (username, display_name, realm, password_hash, ha1_md5, ha1_sha256, scram_sha1, scram_sha256, created_at)
         VALUES (@username, @display_name, @realm, @password_hash, @ha1_md5, @ha1_sha256, @scram_sha1, @scram_sha256, @created_at)`,
      ),
      get: db.prepare<[string], AccountRow>('SELECT username, display_name, created_at FROM accounts WHERE username = ?'),
      list: db.prepare<[], AccountRow>('SELECT username, display_name, created_at FROM accounts ORDER BY username'),
      del: db.prepare<[string]>('DELETE FROM accounts WHERE username = ?'),
      setSecrets: db.prepare(
        `UPDATE accounts SET realm = @realm, password_hash = @password_hash, ha1_md5 = @ha1_md5, ha1_sha256 = @ha1_sha256,
           scram_sha1 = @scram_sha1, scram_sha256 = @scram_sha256 WHERE username = @username`,
      ),
      setDisplayName: db.prepare<[string, string]>('UPDATE accounts SET display_name = ? WHERE username = ?'),
      passwordHash: db.prepare<[string], { password_hash: string }>('SELECT password_hash FROM accounts WHERE username = ?'),
      ha1Md5: db.prepare<[string, string], { v: string }>('SELECT ha1_md5 AS v FROM accounts WHERE username = ? AND realm = ?'),
      ha1Sha256: db.prepare<[string, string], { v: string }>(
        'SELECT ha1_sha256 AS v FROM accounts WHERE username = ? AND realm = ?',
      ),
      scramSha1: db.prepare<[string], { v: string }>('SELECT scram_sha1 AS v FROM accounts WHERE username = ?'),
      scramSha256: db.prepare<[string], { v: string }>('SELECT scram_sha256 AS v FROM accounts WHERE username = ?'),
      otherRealms: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM accounts WHERE realm <> ?'),
    };
  }

  get realm(): string {
    return this.#realm;
  }

  /** Accounts whose SIP secrets were made for another domain need a new password before SIP works. */
  countAccountsForOtherRealms(): number {
    return this.#stmts.otherRealms.get(this.#realm)?.n ?? 0;
  }

  async create(account: NewAccount): Promise<Account> {
    const username = normalizeUsername(account.username);
    validateUsername(username);
    validatePassword(account.password);
    const secrets = await this.#secretsFor(username, account.password);
    const createdAt = Date.now();
    const displayName = account.displayName?.trim() || username;
    try {
      this.#stmts.insert.run({ username, display_name: displayName, realm: this.#realm, created_at: createdAt, ...secrets });
      this.#cache.delete(username);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new AccountError(`The account "${username}" already exists`, 'exists');
      }
      throw err;
    }
    return { username, displayName, createdAt };
  }

  async get(username: string): Promise<Account | undefined> {
    return this.#cached(normalizeUsername(username)).account;
  }

  /** Drops cached accounts (another process changed the database). */
  invalidateCache(username?: string): void {
    if (username === undefined) this.#cache.clear();
    else this.#cache.delete(username);
  }

  #cached(username: string): CachedAccount {
    let entry = this.#cache.get(username);
    if (!entry) {
      const row = this.#stmts.get.get(username);
      entry = { account: row && toAccount(row), ha1: {} };
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(username, entry);
    }
    return entry;
  }

  async list(): Promise<Account[]> {
    return this.#stmts.list.all().map(toAccount);
  }

  async delete(username: string): Promise<boolean> {
    const name = normalizeUsername(username);
    this.#cache.delete(name);
    return this.#stmts.del.run(name).changes > 0;
  }

  async setPassword(username: string, password: string): Promise<boolean> {
    validatePassword(password);
    const name = normalizeUsername(username);
    if (!this.#stmts.get.get(name)) return false;
    const secrets = await this.#secretsFor(name, password);
    this.#cache.delete(name);
    return this.#stmts.setSecrets.run({ username: name, realm: this.#realm, ...secrets }).changes > 0;
  }

  async setDisplayName(username: string, displayName: string): Promise<boolean> {
    const trimmed = displayName.trim();
    if (!trimmed || trimmed.length > 100) throw new AccountError('A display name has 1–100 characters', 'invalid_username');
    const name = normalizeUsername(username);
    this.#cache.delete(name);
    return this.#stmts.setDisplayName.run(trimmed, name).changes > 0;
  }

  async verifyPassword(username: string, password: string): Promise<boolean> {
    const row = this.#stmts.passwordHash.get(normalizeUsername(username));
    if (!row) {
      this.#dummyHash ??= hashPassword(String(Math.random()), this.#cost);
      await verifyPasswordHash(password, await this.#dummyHash);
      return false;
    }
    return verifyPasswordHash(password, row.password_hash);
  }

  async getDigestHa1(username: string, hash: DigestHash): Promise<string | undefined> {
    const entry = this.#cached(username);
    if (!entry.account) return undefined;
    if (!(hash in entry.ha1)) {
      const stmt = hash === 'md5' ? this.#stmts.ha1Md5 : this.#stmts.ha1Sha256;
      entry.ha1[hash] = stmt.get(username, this.#realm)?.v;
    }
    return entry.ha1[hash];
  }

  async getScramCredentials(username: string, hash: ScramHash): Promise<ScramCredentials | undefined> {
    const stmt = hash === 'sha1' ? this.#stmts.scramSha1 : this.#stmts.scramSha256;
    const v = stmt.get(normalizeUsername(username))?.v;
    return v ? (JSON.parse(v) as ScramCredentials) : undefined;
  }

  async #secretsFor(username: string, password: string): Promise<Secrets> {
    const [passwordHash, sha1, sha256] = await Promise.all([
      hashPassword(password, this.#cost),
      computeScram('sha1', password, this.#iterations),
      computeScram('sha256', password, this.#iterations),
    ]);
    return {
      password_hash: passwordHash,
      ha1_md5: computeHa1('md5', username, this.#realm, password),
      ha1_sha256: computeHa1('sha256', username, this.#realm, password),
      scram_sha1: JSON.stringify(sha1),
      scram_sha256: JSON.stringify(sha256),
    };
  }
}

function toAccount(row: AccountRow): Account {
  return { username: row.username, displayName: row.display_name, createdAt: row.created_at };
}
