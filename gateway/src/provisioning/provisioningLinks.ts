/**
 * Provisioning links: a softphone imports its account from a URL (Linphone's remote
 * provisioning, often from a QR code) and cannot sign in first, so the link itself carries the
 * app password — encrypted (JWE, `dir` + A256GCM via jose) with a key only the gateways hold,
 * and valid for minutes. It is shown once, like the password.
 */
import { EncryptJWT, errors, jwtDecrypt } from 'jose';

const ISSUER = 'parley-gateway';
const AUDIENCE = 'parley-provisioning';

export interface ProvisioningClaims {
  username: string;
  /** The app password (the link is the only place it is kept, encrypted). */
  password: string;
  appPasswordId: string;
  expiresAt: number;
}

export async function issueProvisioningToken(
  claims: Omit<ProvisioningClaims, 'expiresAt'>,
  key: Uint8Array,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: number }> {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = await new EncryptJWT({ u: claims.username, p: claims.password, id: claims.appPasswordId })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(exp)
    .encrypt(key);
  return { token, expiresAt: exp * 1000 };
}

export async function readProvisioningToken(
  token: string,
  key: Uint8Array,
): Promise<{ ok: true; claims: ProvisioningClaims } | { ok: false; reason: string }> {
  try {
    const { payload } = await jwtDecrypt(token, key, { issuer: ISSUER, audience: AUDIENCE });
    if (typeof payload.u !== 'string' || typeof payload.p !== 'string' || typeof payload.id !== 'string' || typeof payload.exp !== 'number') {
      return { ok: false, reason: 'This provisioning link is not valid.' };
    }
    return { ok: true, claims: { username: payload.u, password: payload.p, appPasswordId: payload.id, expiresAt: payload.exp * 1000 } };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, reason: 'This provisioning link has expired. Make a new one on the “Use a phone or an XMPP client” page.' };
    return { ok: false, reason: 'This provisioning link is not valid.' };
  }
}
