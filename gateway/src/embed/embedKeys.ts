/**
 * Embed keys: the operator lets one site (one or more origins) put meetings on its pages for
 * people without an account — `parley embed-key --origin https://physics.example.edu --room 'physics-*'`.
 * The key is a signed, expiring token (JWT, HS256 via jose) naming the origins and which
 * meeting names it opens. It is public (it sits in the site's HTML), so it is only honoured
 * for an embedding page whose origin it names and that PARLEY_EMBED_ORIGINS allows; browsers
 * report that origin truthfully and refuse to frame Parley anywhere else. Each key carries an
 * id (`jti`) recorded in the database, so `parley embed-key revoke <id>` withdraws it at once.
 */
import { errors, jwtVerify, SignJWT } from 'jose';

const ISSUER = 'parley-gateway';
const AUDIENCE = 'parley-embed-key';

export interface EmbedKeyClaims {
  /** The key's id (JWT `jti`); keys issued before ids existed have none. */
  id?: string;
  origins: string[];
  /** Meeting names: exact, `prefix-*`, or `*` for any. */
  rooms: string;
  expiresAt: number;
}

export async function issueEmbedKey(
  claims: { id: string; origins: string[]; rooms: string },
  key: Uint8Array,
  ttlSeconds: number,
): Promise<{ key: string; expiresAt: number }> {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = await new SignJWT({ origins: claims.origins, rooms: claims.rooms })
    .setProtectedHeader({ alg: 'HS256' })
    .setJti(claims.id)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
  return { key: token, expiresAt: exp * 1000 };
}

export function roomMatches(pattern: string, room: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return room.startsWith(pattern.slice(0, -1));
  return room === pattern;
}

/** Whether the key admits a guest to `room` from a page on `origin`, and if not, why. */
export async function checkEmbedKey(
  token: string,
  key: Uint8Array,
  request: { room: string; origin: string | undefined; allowedOrigins: readonly string[] },
): Promise<{ ok: true; claims: EmbedKeyClaims } | { ok: false; reason: string }> {
  let claims: EmbedKeyClaims;
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const origins = payload.origins;
    if (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string') || typeof payload.rooms !== 'string') {
      return { ok: false, reason: 'This embed key is not valid.' };
    }
    claims = { id: payload.jti, origins: origins as string[], rooms: payload.rooms, expiresAt: (payload.exp ?? 0) * 1000 };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, reason: 'This site’s embed key has expired; the site needs a new one.' };
    return { ok: false, reason: 'This embed key is not valid.' };
  }
  if (!request.origin || !claims.origins.includes(request.origin) || !request.allowedOrigins.includes(request.origin)) {
    return { ok: false, reason: 'This site may not embed Parley meetings for guests.' };
  }
  if (!roomMatches(claims.rooms, request.room)) return { ok: false, reason: 'This site’s embed key does not open this meeting.' };
  return { ok: true, claims };
}
