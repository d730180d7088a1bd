/**
 * The AccountStore over the storage layer's account records (SQLite or PostgreSQL), with the
 * SIP hot path's reads cached in memory. Every gateway on the database hears each change
 * (`accounts:<user>` topics) and drops what it cached, so a password changed on one gateway or
 * by the CLI takes effect on all of them.
 */
import crypto from 'node:crypto';
import type { AccountRecords } from '../storage/records/accountRecords.js';
import { UniqueViolation } from '../storage/sql/sqlDatabase.js';
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

export interface AccountDirectoryOptions {
  records: AccountRecords;
  /** SIP digest realm (the Parley domain); HA1 values depend on it. */
  realm: string;
  passwordHashCost: number;
  scramIterations: number;
}

/** What the SIP and XMPP hot paths need about a user (the account, HA1s, SCRAM keys), cached in memory. */
interface CachedAccount {
  account: Promise<Account | undefined>;
  ha1: Promise<Partial<Record<DigestHash, string>>>;
  scram: Promise<Partial<Record<ScramHash, ScramCredentials>>>;
}

/** Most users that stay cached; beyond this the cache is simply cleared (it refills on demand). */
const CACHE_LIMIT = 200_000;

export class AccountDirectory implements AccountStore {
  readonly #records: AccountRecords;
  readonly #realm: string;
  readonly #cost: number;
  readonly #iterations: number;
  /** A hash of a random password, verified for unknown users so timing does not reveal who exists. */
  #dummyHash: Promise<string> | undefined;
  /** Every REGISTER, INVITE and XMPP login reads the account and its secrets: a map lookup, not a query. */
  readonly #cache = new Map<string, CachedAccount>();

  constructor(options: AccountDirectoryOptions) {
    this.#records = options.records;
    this.#realm = options.realm;
    this.#cost = options.passwordHashCost;
    this.#iterations = options.scramIterations;
  }

  get realm(): string {
    return this.#realm;
  }

  /** Accounts whose SIP secrets were made for another domain need a new password before SIP works. */
  countAccountsForOtherRealms(): Promise<number> {
    return this.#records.countForOtherRealms(this.#realm);
  }

  async create(account: NewAccount): Promise<Account> {
    const username = normalizeUsername(account.username);
    validateUsername(username);
    if (account.password === undefined && !account.provider) throw new AccountError('A local account needs a password', 'invalid_password');
    if (account.password !== undefined) validatePassword(account.password);
    // An identity provider's account signs in there; its own password is random and never shown
    // (SIP and XMPP clients use app passwords), but its SCRAM salts are what app passwords share.
    const secrets = await this.#secretsFor(username, account.password ?? crypto.randomBytes(32).toString('base64url'));
    const createdAt = Date.now();
    const displayName = account.displayName?.trim().slice(0, 100) || username;
    try {
      // Insert and let the key decide: two gateways creating the same name at once get one
      // account and one "exists", never two half-written rows.
      await this.#records.insert({ username, displayName, createdAt, provider: account.provider, ...secrets });
    } catch (err) {
      if (err instanceof UniqueViolation) throw new AccountError(`The account "${username}" already exists`, 'exists');
      throw err;
    } finally {
      this.#cache.delete(username);
    }
    return { username, displayName, createdAt, ...(account.provider && { provider: account.provider }) };
  }

  get(username: string): Promise<Account | undefined> {
    return this.#cached(normalizeUsername(username)).account;
  }

  /** Drops cached accounts (the records changed, here or on another gateway). */
  invalidateCache(username?: string): void {
    if (username === undefined) this.#cache.clear();
    else this.#cache.delete(username);
  }

  #cached(username: string): CachedAccount {
    let entry = this.#cache.get(username);
    if (!entry) {
      // One read brings the account, both HA1s and both SCRAM credentials.
      const loaded = this.#records.getForSignIn(username, this.#realm);
      const created: CachedAccount = {
        account: loaded.then((r) => r?.account),
        ha1: loaded.then((r) => ({ md5: r?.ha1Md5, sha256: r?.ha1Sha256 })),
        scram: loaded.then((r) => (r ? { sha1: JSON.parse(r.scramSha1) as ScramCredentials, sha256: JSON.parse(r.scramSha256) as ScramCredentials } : {})),
      };
      // A failed read is not remembered: the next call asks the database again.
      loaded.catch(() => this.#cache.get(username) === created && this.#cache.delete(username));
      created.ha1.catch(() => undefined);
      created.scram.catch(() => undefined);
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(username, created);
      entry = created;
    }
    return entry;
  }

  list(): Promise<Account[]> {
    return this.#records.list();
  }

  async delete(username: string): Promise<boolean> {
    const name = normalizeUsername(username);
    try {
      return await this.#records.delete(name);
    } finally {
      this.#cache.delete(name);
    }
  }

  async setPassword(username: string, password: string): Promise<boolean> {
    validatePassword(password);
    const name = normalizeUsername(username);
    // The SCRAM salts stay: the user's app passwords were derived with them (sasl.ts offers one
    // salt per login), so a new account password does not break their devices.
    const [sha1, sha256] = await Promise.all([this.getScramCredentials(name, 'sha1'), this.getScramCredentials(name, 'sha256')]);
    const secrets = await this.#secretsFor(name, password, { sha1: sha1?.salt, sha256: sha256?.salt });
    try {
      return await this.#records.setSecrets(name, secrets);
    } finally {
      this.#cache.delete(name);
    }
  }

  async setDisplayName(username: string, displayName: string): Promise<boolean> {
    const trimmed = displayName.trim();
    if (!trimmed || trimmed.length > 100) throw new AccountError('A display name has 1–100 characters', 'invalid_username');
    const name = normalizeUsername(username);
    try {
      return await this.#records.setDisplayName(name, trimmed);
    } finally {
      this.#cache.delete(name);
    }
  }

  async setDisabled(username: string, disabled: boolean): Promise<boolean> {
    const name = normalizeUsername(username);
    try {
      return await this.#records.setDisabled(name, disabled ? Date.now() : undefined);
    } finally {
      this.#cache.delete(name);
    }
  }

  async verifyPassword(username: string, password: string): Promise<boolean> {
    const name = normalizeUsername(username);
    const [hash, account] = await Promise.all([this.#records.secret(name, 'passwordHash'), this.get(name)]);
    if (!hash || !account || account.disabledAt !== undefined) {
      this.#dummyHash ??= hashPassword(String(Math.random()), this.#cost);
      await verifyPasswordHash(password, await this.#dummyHash);
      return false;
    }
    return verifyPasswordHash(password, hash);
  }

  async getDigestHa1(username: string, hash: DigestHash): Promise<string | undefined> {
    const entry = this.#cached(username);
    const account = await entry.account;
    if (!account || account.disabledAt !== undefined) return undefined;
    return (await entry.ha1)[hash];
  }

  /** The account's SCRAM credentials (undefined when it is unknown or disabled). */
  async getScramCredentials(username: string, hash: ScramHash): Promise<ScramCredentials | undefined> {
    const entry = this.#cached(normalizeUsername(username));
    const account = await entry.account;
    if (!account || account.disabledAt !== undefined) return undefined;
    return (await entry.scram)[hash];
  }

  async #secretsFor(username: string, password: string, salts: Partial<Record<ScramHash, string>> = {}) {
    const saltOf = (hash: ScramHash) => (salts[hash] ? Buffer.from(salts[hash], 'base64') : undefined);
    const [passwordHash, sha1, sha256] = await Promise.all([
      hashPassword(password, this.#cost),
      computeScram('sha1', password, this.#iterations, saltOf('sha1')),
      computeScram('sha256', password, this.#iterations, saltOf('sha256')),
    ]);
    return {
      realm: this.#realm,
      passwordHash,
      ha1Md5: computeHa1('md5', username, this.#realm, password),
      ha1Sha256: computeHa1('sha256', username, this.#realm, password),
      scramSha1: JSON.stringify(sha1),
      scramSha256: JSON.stringify(sha256),
    };
  }
}
