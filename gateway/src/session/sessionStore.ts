/**
 * Web sign-in sessions. The browser holds a random token in an httpOnly cookie; the database
 * holds only its SHA-256, so a copy of the database cannot be used to sign in.
 *
 * Each session also yields a SIP credential (a password derived from the session), which the
 * web client uses for SIP digest. It expires and is revoked with the session, so the browser
 * never needs the account password after sign-in.
 */
import crypto from 'node:crypto';
import type { Db } from '../storage/database.js';
import { computeHa1, type DigestHash } from '../directory/passwords.js';

export interface Session {
  username: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStoreOptions {
  db: Db;
  /** Key used to derive SIP credentials from sessions. */
  sipKey: Buffer;
  realm: string;
  ttlSeconds: number;
}

export class SessionStore {
  readonly #key: Buffer;
  readonly #realm: string;
  readonly #ttlMs: number;
  readonly #stmts;
  /** username → credentials (and their HA1s) of live sessions, valid until the earliest expiry (hot path). */
  readonly #credCache = new Map<string, { passwords: string[]; md5: string[]; sha256: string[]; validUntil: number }>();

  constructor(options: SessionStoreOptions) {
    this.#key = options.sipKey;
    this.#realm = options.realm;
    this.#ttlMs = options.ttlSeconds * 1000;
    const db = options.db;
    this.#stmts = {
      insert: db.prepare(
        'INSERT INTO sessions (id_hash, username, created_at, expires_at, user_agent) VALUES (?, ?, ?, ?, ?)',
      ),
      get: db.prepare<[string, number], { username: string; created_at: number; expires_at: number }>(
        'SELECT username, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?',
      ),
      del: db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?'),
      delUser: db.prepare<[string]>('DELETE FROM sessions WHERE username = ?'),
      forUser: db.prepare<[string, number], { id_hash: string; expires_at: number }>(
        'SELECT id_hash, expires_at FROM sessions WHERE username = ? AND expires_at > ?',
      ),
      purge: db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?'),
    };
  }

  create(username: string, userAgent?: string): { token: string; session: Session } {
    const token = crypto.randomBytes(32).toString('base64url');
    const now = Date.now();
    const session = { username, createdAt: now, expiresAt: now + this.#ttlMs };
    this.#stmts.insert.run(hashToken(token), username, now, session.expiresAt, userAgent?.slice(0, 200) ?? null);
    this.#credCache.delete(username);
    return { token, session };
  }

  get(token: string): Session | undefined {
    const row = this.#stmts.get.get(hashToken(token), Date.now());
    return row && { username: row.username, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  delete(token: string): void {
    this.#stmts.del.run(hashToken(token));
    this.#credCache.clear();
  }

  deleteAllFor(username: string): void {
    this.#stmts.delUser.run(username);
    this.#credCache.delete(username);
  }

  /** Drops cached session credentials (another process changed the database). */
  invalidateCache(): void {
    this.#credCache.clear();
  }

  purgeExpired(): number {
    return this.#stmts.purge.run(Date.now()).changes;
  }

  /**
   * The password the web client uses for SIP digest and XMPP SASL while this session lasts
   * (derived, never stored, revoked with the session).
   */
  credentialFor(token: string): string {
    return this.#derive(hashToken(token));
  }

  /** Credentials of every live session of a user. */
  credentials(username: string): string[] {
    return this.#cached(username).passwords;
  }

  /** HA1 values of every live session of a user, for digest verification. */
  sessionHa1s(username: string, hash: DigestHash): string[] {
    return this.#cached(username)[hash];
  }

  #cached(username: string) {
    const now = Date.now();
    let cached = this.#credCache.get(username);
    if (!cached || cached.validUntil <= now) {
      const rows = this.#stmts.forUser.all(username, now);
      const passwords = rows.map((row) => this.#derive(row.id_hash));
      cached = {
        passwords,
        md5: passwords.map((p) => computeHa1('md5', username, this.#realm, p)),
        sha256: passwords.map((p) => computeHa1('sha256', username, this.#realm, p)),
        validUntil: Math.min(now + 60_000, ...rows.map((r) => r.expires_at)),
      };
      if (this.#credCache.size > 100_000) this.#credCache.clear();
      this.#credCache.set(username, cached);
    }
    return cached;
  }

  #derive(idHash: string): string {
    return crypto.createHmac('sha256', this.#key).update(idHash).digest('base64url');
  }
}

function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}
