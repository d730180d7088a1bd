/**
 * Web sign-in sessions. The browser holds a random token in an httpOnly cookie; the database
 * holds only its SHA-256, so a copy of the database cannot be used to sign in.
 *
 * Each session also yields a SIP credential (a password derived from the session), which the
 * web client uses for SIP digest. It expires and is revoked with the session, so the browser
 * never needs the account password after sign-in.
 */
import crypto from 'node:crypto';
import type { SessionRecords } from '../storage/records/sessionRecords.js';
import { computeHa1, type DigestHash } from '../directory/passwords.js';

export interface Session {
  username: string;
  createdAt: number;
  expiresAt: number;
  /** The identity provider it signed in through (undefined: a local password). */
  provider?: string;
  /** What that provider's logout needs (JSON, the provider's own). */
  idpLogout?: string;
}

export interface SessionStoreOptions {
  records: SessionRecords;
  /** Key used to derive SIP credentials from sessions (the same on every gateway). */
  sipKey: Buffer;
  realm: string;
  ttlSeconds: number;
}

interface CachedCredentials {
  passwords: string[];
  md5: string[];
  sha256: string[];
  validUntil: number;
}

/** Longest a user's cached credentials are trusted without a change notice. */
const CREDENTIAL_CACHE_MS = 60_000;

export class SessionStore {
  readonly #records: SessionRecords;
  readonly #key: Buffer;
  readonly #realm: string;
  readonly #ttlMs: number;
  /**
   * username → credentials (and their HA1s) of live sessions, valid until the earliest expiry
   * (SIP hot path). Dropped on `sessions:<user>` notices from any gateway.
   */
  readonly #credCache = new Map<string, Promise<CachedCredentials>>();

  constructor(options: SessionStoreOptions) {
    this.#records = options.records;
    this.#key = options.sipKey;
    this.#realm = options.realm;
    this.#ttlMs = options.ttlSeconds * 1000;
  }

  async create(username: string, userAgent?: string, idp?: { provider: string; logout?: string }): Promise<{ token: string; session: Session }> {
    const token = crypto.randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = { username, createdAt: now, expiresAt: now + this.#ttlMs, ...(idp && { provider: idp.provider, idpLogout: idp.logout }) };
    await this.#records.insert({ idHash: hashToken(token), ...session, userAgent: userAgent?.slice(0, 200) });
    this.#credCache.delete(username);
    return { token, session };
  }

  async get(token: string): Promise<Session | undefined> {
    const row = await this.#records.get(hashToken(token), Date.now());
    return row && { username: row.username, createdAt: row.createdAt, expiresAt: row.expiresAt, provider: row.provider, idpLogout: row.idpLogout };
  }

  async delete(token: string): Promise<void> {
    const user = await this.#records.delete(hashToken(token));
    if (user) this.#credCache.delete(user);
  }

  async deleteAllFor(username: string): Promise<void> {
    await this.#records.deleteAllFor(username);
    this.#credCache.delete(username);
  }

  /** Drops cached session credentials (the records changed, here or on another gateway). */
  invalidateCache(username?: string): void {
    if (username === undefined) this.#credCache.clear();
    else this.#credCache.delete(username);
  }

  purgeExpired(): Promise<number> {
    return this.#records.purgeExpired(Date.now());
  }

  /**
   * The password the web client uses for SIP digest and XMPP SASL while this session lasts
   * (derived, never stored, revoked with the session).
   */
  credentialFor(token: string): string {
    return this.#derive(hashToken(token));
  }

  /** Credentials of every live session of a user. */
  async credentials(username: string): Promise<string[]> {
    return (await this.#cached(username)).passwords;
  }

  /** HA1 values of every live session of a user, for digest verification. */
  async sessionHa1s(username: string, hash: DigestHash): Promise<string[]> {
    return (await this.#cached(username))[hash];
  }

  async #cached(username: string): Promise<CachedCredentials> {
    const now = Date.now();
    const pending = this.#credCache.get(username);
    if (pending) {
      const cached = await pending.catch(() => undefined);
      if (cached && cached.validUntil > now) return cached;
      if (this.#credCache.get(username) === pending) this.#credCache.delete(username);
    }
    let entry = this.#credCache.get(username);
    if (!entry) {
      entry = this.#load(username, now);
      if (this.#credCache.size > 100_000) this.#credCache.clear();
      this.#credCache.set(username, entry);
      const loaded = entry;
      loaded.catch(() => this.#credCache.get(username) === loaded && this.#credCache.delete(username));
    }
    return entry;
  }

  async #load(username: string, now: number): Promise<CachedCredentials> {
    const rows = await this.#records.liveFor(username, now);
    const passwords = rows.map((row) => this.#derive(row.idHash));
    return {
      passwords,
      md5: passwords.map((p) => computeHa1('md5', username, this.#realm, p)),
      sha256: passwords.map((p) => computeHa1('sha256', username, this.#realm, p)),
      validUntil: Math.min(now + CREDENTIAL_CACHE_MS, ...rows.map((r) => r.expiresAt)),
    };
  }

  #derive(idHash: string): string {
    return crypto.createHmac('sha256', this.#key).update(idHash).digest('base64url');
  }
}

function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}
