/**
 * Join tokens: short-lived JWTs (HS256, via jose) that the gateway issues for one user, one
 * conference and the one SFU node the conference is pinned to. The SFU admits a WebSocket
 * into a room only with a valid token for that room and that node. Both servers use this
 * module — the gateway to issue, SFU nodes to verify — with a key derived from the secret
 * they share (PARLEY_SFU_SECRET).
 */
import { jwtVerify, SignJWT, errors } from 'jose';
import { participantRole, type ParticipantRole } from '../contracts/sfu/signalling.js';
import { deriveKey } from './secret.js';

export interface JoinClaims {
  conference: string;
  nodeId: string;
  /** Stable identity: the account's address, or a guest id; a rejoin with the same id replaces the old session. */
  userId: string;
  displayName: string;
  role: ParticipantRole;
}

const ISSUER = 'parley-gateway';
const AUDIENCE = 'parley-sfu';

export class JoinTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenError';
  }
}

export async function issueJoinToken(claims: JoinClaims, key: Uint8Array, ttlSeconds: number): Promise<string> {
  return new SignJWT({
    conf: claims.conference,
    node: claims.nodeId,
    name: claims.displayName,
    role: claims.role,
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.userId)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

export async function verifyJoinToken(token: string, key: Uint8Array): Promise<JoinClaims> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const { conf, node, name, role, sub } = payload;
    if (
      typeof conf !== 'string' ||
      typeof node !== 'string' ||
      typeof name !== 'string' ||
      typeof sub !== 'string' ||
      !participantRole.safeParse(role).success
    ) {
      throw new JoinTokenError('The join token is missing claims');
    }
    return { conference: conf, nodeId: node, userId: sub, displayName: name, role: role as ParticipantRole };
  } catch (err) {
    if (err instanceof JoinTokenError) throw err;
    if (err instanceof errors.JWTExpired) throw new JoinTokenError('The join token has expired');
    throw new JoinTokenError('The join token is not valid');
  }
}

/** The signing key for join tokens, derived from the secret the gateway and SFU nodes share. */
export function joinTokenKey(sharedSecret: Buffer): Uint8Array {
  return new Uint8Array(deriveKey(sharedSecret, 'sfu-join'));
}
