/**
 * What a sign-in at an identity provider must find again when the browser comes back (PKCE
 * verifier, state, nonce, SAML request id, where to go next): sealed into a short-lived cookie
 * (JWE, `dir` + A256GCM via jose, a key only the gateways hold), so any gateway node can finish
 * the sign-in and nothing waits in server memory.
 */
import { EncryptJWT, jwtDecrypt } from 'jose';

const AUDIENCE = 'parley-sign-in';

export const SIGN_IN_COOKIE = 'parley_signin';
/** How long someone may take at their identity provider. */
export const SIGN_IN_SECONDS = 600;

export async function sealTransaction(provider: string, data: Record<string, string>, key: Uint8Array): Promise<string> {
  return new EncryptJWT({ ...data, provider })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + SIGN_IN_SECONDS)
    .encrypt(key);
}

/** The transaction for this provider, or undefined when it is missing, expired, forged or another provider's. */
export async function openTransaction(provider: string, sealed: string | undefined, key: Uint8Array): Promise<Record<string, string> | undefined> {
  if (!sealed) return undefined;
  try {
    const { payload } = await jwtDecrypt(sealed, key, { audience: AUDIENCE });
    if (payload.provider !== provider) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(payload)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return undefined;
  }
}

/** Only a path on this site (never another origin: no open redirect after sign-in). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next.slice(0, 500);
}
