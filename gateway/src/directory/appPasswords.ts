/**
 * App passwords: a password per device ("Desk phone", "Gajim on my laptop") for the clients
 * that cannot do a web sign-in — SIP phones and XMPP clients — each limited to SIP and/or XMPP,
 * shown once, listed with its last use, revocable. Stored as the account's own secrets are: HA1
 * values for SIP digest and SCRAM keys for XMPP (with the account's salts, so one SCRAM
 * challenge fits the account and all its devices), never the password.
 *
 * A credential that authenticated something is named `app:<id>` (see `credentialOf`), so the
 * registrar and the XMPP server can end what a revoked password opened.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { AppPasswordRecords, AppPasswordRow, AppPasswordScope } from '../storage/records/appPasswordRecords.js';
import { AccountError, normalizeUsername, type AccountStore } from './accountStore.js';
import { computeHa1, computeScram, type DigestHash, type ScramCredentials, type ScramHash } from './passwords.js';

export type { AppPasswordScope } from '../storage/records/appPasswordRecords.js';

const pbkdf2 = promisify(crypto.pbkdf2);

export interface AppPassword {
  id: string;
  label: string;
  scopes: AppPasswordScope[];
  createdAt: number;
  lastUsedAt?: number;
  lastUsedBy?: string;
}

export interface AppPasswordsOptions {
  records: AppPasswordRecords;
  accounts: AccountStore;
  /** SIP digest realm (the Parley domain). */
  realm: string;
  /** Most app passwords one user may hold (PARLEY_APP_PASSWORDS_MAX). */
  maxPerUser: number;
}

/** What a credential that authenticated a SIP or XMPP client was. */
export type CredentialKind = 'account' | 'session' | `app:${string}`;

export function credentialOf(id: string): CredentialKind {
  return `app:${id}`;
}

/** The app password id behind a credential, if it was one. */
export function appPasswordIdOf(credential: string | undefined): string | undefined {
  return credential?.startsWith('app:') ? credential.slice(4) : undefined;
}

/** 32 symbols without look-alikes (no l, o, 0, 1): 16 of them carry 80 bits. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

function newPassword(): string {
  const bytes = crypto.randomBytes(16);
  const chars = [...bytes].map((b) => ALPHABET[b % 32]);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

/** How often one app password's "last used" is written at most (every REGISTER refresh would be too often). */
const MARK_USED_EVERY_MS = 60_000;

export class AppPasswords {
  readonly #o: AppPasswordsOptions;
  /** username → its app passwords (the SIP and XMPP hot paths read them on every sign-in). */
  readonly #cache = new Map<string, Promise<AppPasswordRow[]>>();
  readonly #markedAt = new Map<string, number>();

  constructor(options: AppPasswordsOptions) {
    this.#o = options;
  }

  async create(username: string, label: string, scopes: readonly AppPasswordScope[]): Promise<{ appPassword: AppPassword; password: string }> {
    const name = normalizeUsername(username);
    const trimmed = label.trim();
    if (!trimmed || trimmed.length > 60) throw new AccountError('Name the device in 1–60 characters (for example "Desk phone")', 'invalid_username');
    const wanted = [...new Set(scopes)].filter((s) => s === 'sip' || s === 'xmpp');
    if (!wanted.length) throw new AccountError('An app password is for SIP, XMPP or both', 'invalid_password');
    const [sha1, sha256] = await Promise.all([this.#o.accounts.getScramCredentials(name, 'sha1'), this.#o.accounts.getScramCredentials(name, 'sha256')]);
    if (!sha1 || !sha256) throw new AccountError(`No account named "${name}"`, 'not_found');
    const existing = await this.#o.records.listFor(name);
    if (existing.length >= this.#o.maxPerUser) {
      throw new AccountError(`You have ${existing.length} app passwords already (the most is ${this.#o.maxPerUser}): revoke one you no longer use`, 'exists');
    }
    const password = newPassword();
    const [s1, s256] = await Promise.all([
      computeScram('sha1', password, sha1.iterations, Buffer.from(sha1.salt, 'base64')),
      computeScram('sha256', password, sha256.iterations, Buffer.from(sha256.salt, 'base64')),
    ]);
    const row: AppPasswordRow = {
      id: crypto.randomBytes(9).toString('base64url'),
      username: name,
      label: trimmed,
      scopes: wanted,
      realm: this.#o.realm,
      ha1Md5: computeHa1('md5', name, this.#o.realm, password),
      ha1Sha256: computeHa1('sha256', name, this.#o.realm, password),
      scramSha1: JSON.stringify(s1),
      scramSha256: JSON.stringify(s256),
      createdAt: Date.now(),
    };
    try {
      await this.#o.records.insert(row);
    } finally {
      this.#cache.delete(name);
    }
    return { appPassword: summary(row), password };
  }

  async list(username: string): Promise<AppPassword[]> {
    return (await this.#o.records.listFor(normalizeUsername(username))).map(summary);
  }

  async revoke(username: string, id: string): Promise<boolean> {
    const name = normalizeUsername(username);
    try {
      return await this.#o.records.delete(name, id);
    } finally {
      this.#cache.delete(name);
    }
  }

  /** Ids of the user's app passwords now (to end what a revoked one opened). */
  async ids(username: string): Promise<Set<string>> {
    return new Set((await this.#rows(normalizeUsername(username))).map((r) => r.id));
  }

  /** HA1 values of the user's SIP app passwords, each with its credential name. */
  async digestCandidates(username: string, hash: DigestHash): Promise<Array<{ ha1: string; credential: CredentialKind }>> {
    const rows = await this.#rows(normalizeUsername(username));
    return rows
      .filter((r) => r.scopes.includes('sip') && r.realm === this.#o.realm)
      .map((r) => ({ ha1: hash === 'md5' ? r.ha1Md5 : r.ha1Sha256, credential: credentialOf(r.id) }));
  }

  /** SCRAM credentials of the user's XMPP app passwords, each with its credential name. */
  async scramCandidates(username: string, hash: ScramHash): Promise<Array<{ scram: ScramCredentials; credential: CredentialKind }>> {
    const rows = await this.#rows(normalizeUsername(username));
    return rows
      .filter((r) => r.scopes.includes('xmpp'))
      .map((r) => ({ scram: JSON.parse(hash === 'sha1' ? r.scramSha1 : r.scramSha256) as ScramCredentials, credential: credentialOf(r.id) }));
  }

  /** SASL PLAIN: the XMPP app password this is, if any (one PBKDF2 per salt, and they share the account's). */
  async verifyPlain(username: string, password: string): Promise<CredentialKind | undefined> {
    const candidates = await this.scramCandidates(username, 'sha256');
    const derived = new Map<string, Buffer>();
    for (const { scram, credential } of candidates) {
      const key = `${scram.salt}:${scram.iterations}`;
      let storedKey = derived.get(key);
      if (!storedKey) {
        const salted = await pbkdf2(password.normalize('NFKC'), Buffer.from(scram.salt, 'base64'), scram.iterations, 32, 'sha256');
        const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest();
        storedKey = crypto.createHash('sha256').update(clientKey).digest();
        derived.set(key, storedKey);
      }
      const expected = Buffer.from(scram.storedKey, 'base64');
      if (expected.length === storedKey.length && crypto.timingSafeEqual(expected, storedKey)) return credential;
    }
    return undefined;
  }

  /** Notes that an app password was used (at most once a minute each), e.g. by "SIP from 192.0.2.7". */
  used(credential: string | undefined, by: string): void {
    const id = appPasswordIdOf(credential);
    if (!id) return;
    const now = Date.now();
    if (now - (this.#markedAt.get(id) ?? 0) < MARK_USED_EVERY_MS) return;
    if (this.#markedAt.size > 100_000) this.#markedAt.clear();
    this.#markedAt.set(id, now);
    void this.#o.records.markUsed(id, now, by).catch(() => this.#markedAt.delete(id));
  }

  /** Drops cached app passwords (the records changed, here or on another gateway). */
  invalidateCache(username?: string): void {
    if (username === undefined) this.#cache.clear();
    else this.#cache.delete(username);
  }

  #rows(username: string): Promise<AppPasswordRow[]> {
    let entry = this.#cache.get(username);
    if (!entry) {
      const loaded = this.#o.records.listFor(username);
      entry = loaded;
      loaded.catch(() => this.#cache.get(username) === loaded && this.#cache.delete(username));
      if (this.#cache.size > 200_000) this.#cache.clear();
      this.#cache.set(username, loaded);
    }
    return entry;
  }
}

function summary(r: AppPasswordRow): AppPassword {
  return {
    id: r.id,
    label: r.label,
    scopes: r.scopes,
    createdAt: r.createdAt,
    ...(r.lastUsedAt !== undefined && { lastUsedAt: r.lastUsedAt }),
    ...(r.lastUsedBy !== undefined && { lastUsedBy: r.lastUsedBy }),
  };
}
