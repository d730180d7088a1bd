/**
 * SASL for XMPP (RFC 6120 §6): SCRAM-SHA-256 / SCRAM-SHA-1 (RFC 5802, RFC 7677) and PLAIN
 * (RFC 4616). The same credentials as web sign-in and SIP: the account's stored SCRAM keys, or
 * a live web session's derived credential (for which SCRAM keys are computed with the
 * account's salt, so one server-first message fits every candidate).
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { AccountStore } from '../../directory/accountStore.js';
import { normalizeUsername } from '../../directory/accountStore.js';
import type { AppPasswords } from '../../directory/appPasswords.js';
import type { ScramHash } from '../../directory/passwords.js';
import type { LoginThrottle } from '../../session/loginThrottle.js';
import type { SessionStore } from '../../session/sessionStore.js';

const pbkdf2 = promisify(crypto.pbkdf2);

export type SaslFailure = 'not-authorized' | 'malformed-request' | 'invalid-mechanism' | 'aborted' | 'temporary-auth-failure' | 'invalid-authzid';

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; data?: Buffer; username: string; /** "account", "session" or "app:<id>" (appPasswords.ts). */ credential: string }
  | { kind: 'failure'; condition: SaslFailure; text?: string };

export interface SaslMechanism {
  /** The client's first message (the initial response, possibly empty). */
  start(initial: Buffer): Promise<SaslStep>;
  /** Each later <response/>. */
  step(response: Buffer): Promise<SaslStep>;
}

interface ScramKeys {
  storedKey: Buffer;
  serverKey: Buffer;
}

interface ScramCandidate extends ScramKeys {
  credential: string;
}

/** Looks up what SCRAM and PLAIN need to check a user's credentials. */
export class XmppAuthenticator {
  /** (session credential + salt + iterations) → derived keys; PBKDF2 runs once per session. */
  readonly #derived = new Map<string, ScramKeys>();

  constructor(
    private readonly accounts: AccountStore,
    private readonly sessions: SessionStore,
    private readonly appPasswords: AppPasswords,
    readonly throttle: LoginThrottle,
  ) {}

  async scram(username: string, hash: ScramHash): Promise<{ salt: Buffer; iterations: number; candidates: ScramCandidate[] } | undefined> {
    // All reads at once: on a cold cache each is a database round trip.
    const [creds, sessionPasswords, devices] = await Promise.all([
      this.accounts.getScramCredentials(username, hash),
      this.sessions.credentials(username),
      this.appPasswords.scramCandidates(username, hash),
    ]);
    if (!creds) return undefined;
    const salt = Buffer.from(creds.salt, 'base64');
    const candidates: ScramCandidate[] = [
      { storedKey: Buffer.from(creds.storedKey, 'base64'), serverKey: Buffer.from(creds.serverKey, 'base64'), credential: 'account' },
    ];
    // App passwords made with the account's salt (all of them, unless an old one predates a reset).
    for (const { scram, credential } of devices) {
      if (scram.salt !== creds.salt || scram.iterations !== creds.iterations) continue;
      candidates.push({ storedKey: Buffer.from(scram.storedKey, 'base64'), serverKey: Buffer.from(scram.serverKey, 'base64'), credential });
    }
    for (const password of sessionPasswords) {
      const cacheKey = `${hash}:${creds.salt}:${creds.iterations}:${password}`;
      let keys = this.#derived.get(cacheKey);
      if (!keys) {
        keys = scramKeys(hash, await pbkdf2(password, salt, creds.iterations, hash === 'sha1' ? 20 : 32, hash));
        if (this.#derived.size > 10_000) this.#derived.clear();
        this.#derived.set(cacheKey, keys);
      }
      candidates.push({ ...keys, credential: 'session' });
    }
    return { salt, iterations: creds.iterations, candidates };
  }

  /** The credential a PLAIN password is, or undefined when it is none of the user's. */
  async plain(username: string, password: string): Promise<string | undefined> {
    if (!(await this.accounts.getScramCredentials(username, 'sha256'))) {
      await this.accounts.verifyPassword(username, password); // the same time as for a real user
      return undefined;
    }
    const given = Buffer.from(password);
    for (const c of await this.sessions.credentials(username)) {
      const b = Buffer.from(c);
      if (b.length === given.length && crypto.timingSafeEqual(b, given)) return 'session';
    }
    const device = await this.appPasswords.verifyPlain(username, password);
    if (device) return device;
    return (await this.accounts.verifyPassword(username, password)) ? 'account' : undefined;
  }

  /** Notes the use of an app password (shown in its list as "last used"). */
  used(credential: string, remoteAddress: string): void {
    this.appPasswords.used(credential, `XMPP from ${remoteAddress}`);
  }
}

function scramKeys(hash: ScramHash, salted: Buffer): ScramKeys {
  const clientKey = crypto.createHmac(hash, salted).update('Client Key').digest();
  return {
    storedKey: crypto.createHash(hash).update(clientKey).digest(),
    serverKey: crypto.createHmac(hash, salted).update('Server Key').digest(),
  };
}

/** RFC 5802 saslname: `=2C` is ',' and `=3D` is '='; any other '=' is malformed. */
function decodeSaslName(s: string): string | undefined {
  if (/=(?!2C|3D)/.test(s)) return undefined;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function parseAttributes(s: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    if (part.length < 2 || part[1] !== '=') return undefined;
    out.set(part[0], part.slice(2));
  }
  return out;
}

export class ScramServer implements SaslMechanism {
  #username = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #gs2Header = '';
  #nonce = '';
  #keys: { candidates: ScramCandidate[] } | undefined;
  #done = false;

  constructor(
    private readonly hash: ScramHash,
    private readonly auth: XmppAuthenticator,
    private readonly remoteAddress: string,
  ) {}

  async start(initial: Buffer): Promise<SaslStep> {
    const msg = initial.toString('utf8');
    // gs2-header: "n,," / "y,," (no channel binding); "p=" would need -PLUS, which we do not offer.
    const m = /^([ny]),(a=[^,]*)?,(.*)$/.exec(msg);
    if (!m) return { kind: 'failure', condition: msg.startsWith('p=') ? 'not-authorized' : 'malformed-request' };
    this.#gs2Header = `${m[1]},${m[2] ?? ''},`;
    this.#clientFirstBare = m[3];
    const attrs = parseAttributes(this.#clientFirstBare);
    const user = attrs && attrs.get('n') !== undefined ? decodeSaslName(attrs.get('n')!) : undefined;
    const clientNonce = attrs?.get('r');
    if (!user || !clientNonce || /[^\x21-\x2b\x2d-\x7e]/.test(clientNonce)) return { kind: 'failure', condition: 'malformed-request' };
    const authzid = m[2] ? decodeSaslName(m[2].slice(2)) : undefined;
    this.#username = normalizeUsername(user);
    if (authzid && normalizeUsername(authzid.split('@')[0]) !== this.#username) return { kind: 'failure', condition: 'invalid-authzid' };
    if (this.auth.throttle.retryAfter(this.#username, this.remoteAddress) > 0) {
      return { kind: 'failure', condition: 'temporary-auth-failure', text: 'Too many failed attempts; try again later' };
    }
    const found = await this.auth.scram(this.#username, this.hash);
    // Unknown users get a plausible challenge (fixed fake salt) so their existence does not leak.
    const salt = found?.salt ?? crypto.createHash('sha256').update(`parley-unknown-${this.#username}`).digest().subarray(0, 16);
    const iterations = found?.iterations ?? 4096;
    this.#keys = found;
    this.#nonce = clientNonce + crypto.randomBytes(18).toString('base64');
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString('base64')},i=${iterations}`;
    return { kind: 'challenge', data: Buffer.from(this.#serverFirst) };
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.#done || !this.#serverFirst) return { kind: 'failure', condition: 'malformed-request' };
    this.#done = true;
    const msg = response.toString('utf8');
    const proofAt = msg.lastIndexOf(',p=');
    if (proofAt < 0) return { kind: 'failure', condition: 'malformed-request' };
    const withoutProof = msg.slice(0, proofAt);
    const attrs = parseAttributes(withoutProof);
    if (!attrs || attrs.get('r') !== this.#nonce) return { kind: 'failure', condition: 'not-authorized' };
    if (attrs.get('c') !== Buffer.from(this.#gs2Header).toString('base64')) return { kind: 'failure', condition: 'not-authorized' };
    const proof = Buffer.from(msg.slice(proofAt + 3), 'base64');
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    for (const keys of this.#keys?.candidates ?? []) {
      const signature = crypto.createHmac(this.hash, keys.storedKey).update(authMessage).digest();
      if (signature.length !== proof.length) continue;
      const clientKey = Buffer.alloc(proof.length);
      for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ signature[i];
      const computed = crypto.createHash(this.hash).update(clientKey).digest();
      if (crypto.timingSafeEqual(computed, keys.storedKey)) {
        const serverSignature = crypto.createHmac(this.hash, keys.serverKey).update(authMessage).digest('base64');
        this.auth.throttle.succeed(this.#username, this.remoteAddress);
        this.auth.used(keys.credential, this.remoteAddress);
        return { kind: 'success', data: Buffer.from(`v=${serverSignature}`), username: this.#username, credential: keys.credential };
      }
    }
    this.auth.throttle.fail(this.#username, this.remoteAddress);
    return { kind: 'failure', condition: 'not-authorized' };
  }
}

export class PlainServer implements SaslMechanism {
  constructor(
    private readonly auth: XmppAuthenticator,
    private readonly remoteAddress: string,
  ) {}

  async start(initial: Buffer): Promise<SaslStep> {
    if (!initial.length) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.step(initial);
  }

  async step(response: Buffer): Promise<SaslStep> {
    const parts = response.toString('utf8').split('\u0000');
    if (parts.length !== 3) return { kind: 'failure', condition: 'malformed-request' };
    const [authzid, authcid, password] = parts;
    const username = normalizeUsername(authcid);
    if (authzid && normalizeUsername(authzid.split('@')[0]) !== username) return { kind: 'failure', condition: 'invalid-authzid' };
    if (this.auth.throttle.retryAfter(username, this.remoteAddress) > 0) {
      return { kind: 'failure', condition: 'temporary-auth-failure', text: 'Too many failed attempts; try again later' };
    }
    const credential = await this.auth.plain(username, password);
    if (credential) {
      this.auth.throttle.succeed(username, this.remoteAddress);
      this.auth.used(credential, this.remoteAddress);
      return { kind: 'success', username, credential };
    }
    this.auth.throttle.fail(username, this.remoteAddress);
    return { kind: 'failure', condition: 'not-authorized' };
  }
}
