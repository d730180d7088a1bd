import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DigestAlgorithmName } from '../../config.js';
import { computeHa1 } from '../../directory/passwords.js';
import { parseMessage } from '../core/parser.js';
import type { SipRequest } from '../core/message.js';
import { challengeOrder, DigestAuthenticator, parseDigestCredentials } from './digestAuthenticator.js';
import { NonceManager } from './nonceManager.js';

const REALM = 'example.org';
const PASSWORD = 'hunter2hunter2';

function setup(now = () => 1_000_000, algorithms: DigestAlgorithmName[] = ['MD5', 'SHA-256']) {
  const nonces = new NonceManager({ ttlSeconds: 60, slots: 8, now });
  const auth = new DigestAuthenticator({
    realm: REALM,
    algorithms,
    nonces,
    credentials: {
      async ha1Candidates(user, hash) {
        return user === 'alice' ? [{ ha1: computeHa1(hash, 'alice', REALM, PASSWORD), credential: 'account' }] : undefined;
      },
    },
  });
  return { auth, nonces };
}

function request(authorization?: string): SipRequest {
  const text = [
    'REGISTER sip:example.org SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1',
    'From: <sip:alice@example.org>;tag=1',
    'To: <sip:alice@example.org>',
    'Call-ID: c1',
    'CSeq: 1 REGISTER',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const r = parseMessage(Buffer.from(text));
  if (!r.ok) throw new Error(r.reason);
  return r.message as SipRequest;
}

function answer(nonce: string, alg: 'MD5' | 'SHA-256', opts: { password?: string; nc?: number; user?: string } = {}): string {
  const h = (s: string) => crypto.createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
  const nc = (opts.nc ?? 1).toString(16).padStart(8, '0');
  const user = opts.user ?? 'alice';
  const ha1 = h(`${user}:${REALM}:${opts.password ?? PASSWORD}`);
  const resp = h(`${ha1}:${nonce}:${nc}:abc:auth:${h('REGISTER:sip:example.org')}`);
  return `Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="sip:example.org", response="${resp}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="abc"`;
}

describe('DigestAuthenticator', () => {
  it('challenges with one WWW-Authenticate per algorithm in the configured order (RFC 8760), MD5 first by default', () => {
    const { auth } = setup();
    const res = auth.challenge(request(), 'www');
    expect(res.status).toBe(401);
    const challenges = res.getAll('www-authenticate');
    expect(challenges).toHaveLength(2);
    // Phones that read only the first challenge (baresip, sipp) find MD5 there.
    expect(challenges[0]).toMatch(/algorithm=MD5/);
    expect(challenges[1]).toMatch(/algorithm=SHA-256/);
    expect(challenges[0]).toMatch(/qop="auth"/);
    const preferSha = setup(undefined, ['SHA-256', 'MD5']).auth.challenge(request(), 'www').getAll('www-authenticate');
    expect(preferSha.map((c) => /algorithm=(\S+?),/.exec(c)![1])).toEqual(['SHA-256', 'MD5']);
  });

  it('puts MD5 last on WebSocket, where browser SIP stacks read only the last challenge', () => {
    for (const order of [['MD5', 'SHA-256'], ['SHA-256', 'MD5']] as DigestAlgorithmName[][]) {
      const { auth } = setup(undefined, order);
      for (const protocol of ['ws', 'wss'] as const) {
        const challenges = auth.challenge(request(), 'proxy', false, protocol).getAll('proxy-authenticate');
        expect(challenges.map((c) => /algorithm=(\S+?),/.exec(c)![1])).toEqual(['SHA-256', 'MD5']);
      }
    }
    expect(challengeOrder(['SHA-256'], 'ws')).toEqual(['SHA-256']);
    expect(challengeOrder(['MD5', 'SHA-256'], 'tcp')).toEqual(['MD5', 'SHA-256']);
  });

  it.each(['MD5', 'SHA-256'] as const)('accepts a correct %s response and refuses its replay', async (alg) => {
    const { auth, nonces } = setup();
    const nonce = nonces.issue();
    const req = request(answer(nonce, alg));
    expect(await auth.authenticate(req, 'www')).toEqual({ ok: true, username: 'alice', credential: 'account' });
    expect(await auth.authenticate(req, 'www')).toMatchObject({ ok: false, reason: 'replay' });
    // The same nonce with a higher nonce-count is fine (RFC 7616 §3.4.5).
    expect(await auth.authenticate(request(answer(nonce, alg, { nc: 2 })), 'www')).toMatchObject({ ok: true });
  });

  it('refuses a wrong password and an unknown user', async () => {
    const { auth, nonces } = setup();
    expect(await auth.authenticate(request(answer(nonces.issue(), 'MD5', { password: 'nope' })), 'www')).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(await auth.authenticate(request(answer(nonces.issue(), 'MD5', { user: 'mallory' })), 'www')).toMatchObject({ ok: false, reason: 'unknown-user' });
  });

  it('answers an expired nonce as stale, so the client retries without asking the user', async () => {
    let now = 1_000_000;
    const { auth, nonces } = setup(() => now);
    const nonce = nonces.issue();
    now += 61;
    expect(await auth.authenticate(request(answer(nonce, 'MD5')), 'www')).toMatchObject({ ok: false, stale: true });
  });

  it('treats a nonce it never issued (or whose slot was reused) as stale, never as valid', async () => {
    const { auth, nonces } = setup();
    const first = nonces.issue();
    for (let i = 0; i < 8; i++) nonces.issue(); // the ring of 8 slots wraps
    expect(await auth.authenticate(request(answer(first, 'MD5')), 'www')).toMatchObject({ ok: false, stale: true });
    const forged = Buffer.from('0123456789ab').toString('base64url');
    expect(await auth.authenticate(request(answer(forged, 'MD5')), 'www')).toMatchObject({ ok: false, stale: true });
  });

  it('requires qop=auth and a known algorithm', async () => {
    const { auth, nonces } = setup();
    const nonce = nonces.issue();
    const noQop = answer(nonce, 'MD5').replace(', qop=auth', '');
    expect(await auth.authenticate(request(noQop), 'www')).toMatchObject({ ok: false, reason: 'malformed' });
    const md5sess = answer(nonce, 'MD5').replace('algorithm=MD5', 'algorithm=MD5-sess');
    expect(await auth.authenticate(request(md5sess), 'www')).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('parses quoted and unquoted parameters', () => {
    expect(parseDigestCredentials('Digest username="a,b", nc=00000001, qop=auth')).toEqual({ username: 'a,b', nc: '00000001', qop: 'auth' });
    expect(parseDigestCredentials('Basic Zm9v')).toBeUndefined();
  });
});
