/**
 * HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760): MD5 and SHA-256,
 * qop=auth only, nonces from NonceManager. Used by the registrar (401/WWW-Authenticate)
 * and the proxy (407/Proxy-Authenticate).
 */
import crypto from 'node:crypto';
import type { DigestAlgorithmName } from '../../config.js';
import { digestHash, type DigestHash } from '../../directory/passwords.js';
import { splitOutside, unquote } from '../core/grammar.js';
import { createResponse, type SipRequest, type SipResponse } from '../core/message.js';
import type { LoginThrottle } from '../../session/loginThrottle.js';
import type { TransportProtocol } from '../transport/flow.js';
import type { NonceManager } from './nonceManager.js';

/** One HA1 a response may be made with, and what credential it stands for ("account", "session", "app:<id>"). */
export interface DigestCandidate {
  ha1: string;
  credential: string;
}

/** Where HA1 values come from: the account, every live web session's SIP credential, the user's SIP app passwords. */
export interface DigestCredentialSource {
  /** Candidate HA1 values for `username`, or undefined when the user does not exist (or is disabled). */
  ha1Candidates(username: string, hash: DigestHash): Promise<DigestCandidate[] | undefined>;
}

export type AuthKind = 'www' | 'proxy';

export type AuthResult =
  | { ok: true; username: string; credential: string }
  | {
      ok: false;
      stale: boolean;
      reason: 'missing' | 'bad-credentials' | 'unknown-user' | 'stale' | 'replay' | 'malformed' | 'throttled';
      /** Seconds to wait, when throttled. */
      retryAfter?: number;
    };

export interface DigestAuthenticatorOptions {
  realm: string;
  algorithms: DigestAlgorithmName[];
  nonces: NonceManager;
  credentials: DigestCredentialSource;
  /** Counts wrong passwords per user and address, so SIP cannot be used to guess them. */
  throttle?: LoginThrottle;
}

const HASH_OF: Record<DigestAlgorithmName, DigestHash> = { MD5: 'md5', 'SHA-256': 'sha256' };

export class DigestAuthenticator {
  readonly #opts: DigestAuthenticatorOptions;
  readonly #opaque: string;

  constructor(options: DigestAuthenticatorOptions) {
    this.#opts = options;
    this.#opaque = crypto.randomBytes(8).toString('hex');
  }

  get realm(): string {
    return this.#opts.realm;
  }

  /** `sourceIp` is where the request came from (for the guessing throttle). */
  async authenticate(req: SipRequest, kind: AuthKind, sourceIp = ''): Promise<AuthResult> {
    const header = kind === 'www' ? 'authorization' : 'proxy-authorization';
    const values = req.getAll(header);
    if (!values.length) return { ok: false, stale: false, reason: 'missing' };
    let creds: Record<string, string> | undefined;
    for (const v of values) {
      const parsed = parseDigestCredentials(v);
      if (parsed && parsed.realm === this.#opts.realm) {
        creds = parsed;
        break;
      }
    }
    if (!creds) return { ok: false, stale: false, reason: 'missing' };
    const { username, nonce, uri, response, qop, nc: ncHex, cnonce } = creds;
    const algorithm = (creds.algorithm ?? 'MD5').toUpperCase() as DigestAlgorithmName;
    if (!username || !nonce || !uri || !response || !this.#opts.algorithms.includes(algorithm)) {
      return { ok: false, stale: false, reason: 'malformed' };
    }
    // Only qop=auth is offered; without it nonce counts cannot stop replays.
    if (qop !== 'auth' || !ncHex || !cnonce || !/^[0-9a-fA-F]{8}$/.test(ncHex)) {
      return { ok: false, stale: false, reason: 'malformed' };
    }
    const nc = parseInt(ncHex, 16);
    const checked = this.#opts.nonces.check(nonce, nc);
    if (checked.result === 'invalid') return { ok: false, stale: false, reason: 'malformed' };
    if (checked.result === 'replay') return { ok: false, stale: false, reason: 'replay' };

    const throttle = this.#opts.throttle;
    const user = username.toLowerCase();
    const wait = throttle?.retryAfter(user, sourceIp) ?? 0;
    if (wait > 0) return { ok: false, stale: false, reason: 'throttled', retryAfter: wait };
    const hash = HASH_OF[algorithm];
    const candidates = await this.#opts.credentials.ha1Candidates(username, hash);
    if (!candidates) {
      throttle?.fail(user, sourceIp);
      return { ok: false, stale: false, reason: 'unknown-user' };
    }
    const ha2 = digestHash(hash, `${req.method}:${uri}`);
    const given = Buffer.from(response.toLowerCase());
    let matched: string | undefined;
    for (const { ha1, credential } of candidates) {
      const expected = Buffer.from(digestHash(hash, `${ha1}:${nonce}:${ncHex}:${cnonce}:auth:${ha2}`));
      if (expected.length === given.length && crypto.timingSafeEqual(expected, given)) matched ??= credential;
    }
    if (matched === undefined) {
      throttle?.fail(user, sourceIp);
      return { ok: false, stale: false, reason: 'bad-credentials' };
    }
    // Correct password on an expired nonce: ask again with stale=true (RFC 7616 §3.3).
    if (checked.result === 'stale') return { ok: false, stale: true, reason: 'stale' };
    this.#opts.nonces.use(checked, nc);
    return { ok: true, username, credential: matched };
  }

  /**
   * A 401 or 407 carrying one challenge per configured algorithm, in preference order — except
   * on WebSocket, where MD5 goes last: browser SIP stacks (JsSIP) keep only the last challenge
   * of a response and know only MD5.
   */
  challenge(req: SipRequest, kind: AuthKind, stale = false, protocol: TransportProtocol = 'udp'): SipResponse {
    const nonce = this.#opts.nonces.issue();
    const headers: Array<[string, string]> = challengeOrder(this.#opts.algorithms, protocol).map((alg) => [
      kind === 'www' ? 'WWW-Authenticate' : 'Proxy-Authenticate',
      `Digest realm="${this.#opts.realm}", nonce="${nonce}", opaque="${this.#opaque}", algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`,
    ]);
    return createResponse(req, kind === 'www' ? 401 : 407, { headers });
  }
}

/** The algorithms to challenge with on a flow of this protocol, in header order. */
export function challengeOrder(algorithms: readonly DigestAlgorithmName[], protocol: TransportProtocol): DigestAlgorithmName[] {
  if ((protocol !== 'ws' && protocol !== 'wss') || !algorithms.includes('MD5')) return [...algorithms];
  return [...algorithms.filter((a) => a !== 'MD5'), 'MD5'];
}

/** Parses `Digest a=b, c="d"`; returns undefined for other schemes. */
export function parseDigestCredentials(value: string): Record<string, string> | undefined {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const part of splitOutside(value.slice(m[0].length), ',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = unquote(part.slice(eq + 1).trim());
  }
  return out;
}

/** The answer to a failed authentication that is not simply a fresh challenge. */
export function refusal(result: Extract<AuthResult, { ok: false }>): { reason: string; headers: Array<[string, string]> } {
  switch (result.reason) {
    case 'replay':
      return { reason: 'Replayed Credentials', headers: [] };
    case 'throttled':
      return { reason: 'Too Many Failed Attempts', headers: [['Retry-After', String(result.retryAfter ?? 60)]] };
    default:
      return { reason: 'Wrong Credentials', headers: [] };
  }
}
