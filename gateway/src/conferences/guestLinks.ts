/**
 * Guest links: a meeting's owner lets people without an account in. The link carries a
 * signed token (JWT, HS256 via jose) naming the meeting and an expiry; guests type a name.
 */
import { errors, jwtVerify, SignJWT } from 'jose';

const ISSUER = 'parley-gateway';
const AUDIENCE = 'parley-guest-link';

export interface GuestLinkClaims {
  conference: string;
  /** Account that made the link. */
  createdBy: string;
  expiresAt: number;
}

export async function issueGuestLink(
  claims: { conference: string; createdBy: string },
  key: Uint8Array,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = await new SignJWT({ conf: claims.conference, by: claims.createdBy })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(key);
  return { token, expiresAt: expiresAt * 1000 };
}

/** The link's claims, or an explanation of why it does not admit anyone. */
export async function verifyGuestLink(
  token: string,
  key: Uint8Array,
): Promise<{ ok: true; claims: GuestLinkClaims } | { ok: false; reason: string }> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    if (typeof payload.conf !== 'string' || typeof payload.by !== 'string' || typeof payload.exp !== 'number') {
      return { ok: false, reason: 'This guest link is not valid.' };
    }
    return { ok: true, claims: { conference: payload.conf, createdBy: payload.by, expiresAt: payload.exp * 1000 } };
  } catch (err) {
    if (err instanceof errors.JWTExpired) {
      return { ok: false, reason: 'This guest link has expired. Ask the meeting’s organiser for a new one.' };
    }
    return { ok: false, reason: 'This guest link is not valid. Check that you copied all of it.' };
  }
}
