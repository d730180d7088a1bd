/**
 * What each sign-in mechanism needs instead of the password itself (DESIGN.md):
 * a slow scrypt hash for web sign-in, HA1 for SIP digest (RFC 2617/8760), and
 * SCRAM keys (RFC 5802/7677) for XMPP SASL.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;
const pbkdf2 = promisify(crypto.pbkdf2);

const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SCRYPT_KEYLEN = 32;

/** Returns `scrypt$<log2N>$<r>$<p>$<salt b64>$<hash b64>`; parameters travel with the hash. */
export async function hashPassword(password: string, cost: number): Promise<string> {
  const salt = crypto.randomBytes(16);
  const N = 1 << cost;
  const hash = await scrypt(password.normalize('NFC'), salt, SCRYPT_KEYLEN, {
    N,
    r: SCRYPT_R,
    p: SCRYPT_P,
    maxmem: 256 * N * SCRYPT_R,
  });
  return ['scrypt', cost, SCRYPT_R, SCRYPT_P, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifyPasswordHash(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, costS, rS, pS, saltB64, hashB64] = parts;
  const N = 1 << Number(costS);
  const r = Number(rS);
  const expected = Buffer.from(hashB64, 'base64');
  const actual = await scrypt(password.normalize('NFC'), Buffer.from(saltB64, 'base64'), expected.length, {
    N,
    r,
    p: Number(pS),
    maxmem: 256 * N * r,
  });
  return crypto.timingSafeEqual(actual, expected);
}

export type DigestHash = 'md5' | 'sha256';

export function digestHash(alg: DigestHash, data: string): string {
  return crypto.hash(alg, data, 'hex');
}

/** HA1 = H(username ":" realm ":" password), RFC 2617 §3.2.2.2 / RFC 7616 §3.4.2. */
export function computeHa1(alg: DigestHash, username: string, realm: string, password: string): string {
  return digestHash(alg, `${username}:${realm}:${password}`);
}

export type ScramHash = 'sha1' | 'sha256';

export interface ScramCredentials {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
}

const SCRAM_KEYLEN: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

export async function computeScram(
  hash: ScramHash,
  password: string,
  iterations: number,
  salt: Buffer = crypto.randomBytes(16),
): Promise<ScramCredentials> {
  // RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i); SASLprep is approximated by NFKC.
  const salted = await pbkdf2(password.normalize('NFKC'), salt, iterations, SCRAM_KEYLEN[hash], hash);
  const clientKey = crypto.createHmac(hash, salted).update('Client Key').digest();
  const storedKey = crypto.createHash(hash).update(clientKey).digest();
  const serverKey = crypto.createHmac(hash, salted).update('Server Key').digest();
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: storedKey.toString('base64'),
    serverKey: serverKey.toString('base64'),
  };
}
