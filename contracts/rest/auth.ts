/**
 * Sign-in and the signed-in user: POST /api/login, GET /api/me, POST /api/logout.
 * The profile carries session-bound SIP and XMPP credentials: the browser never keeps the
 * account password.
 */
import { z } from 'zod';

export const loginRequest = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(1024),
});
export type LoginRequest = z.infer<typeof loginRequest>;

export const profile = z.object({
  user: z.object({ username: z.string(), displayName: z.string(), domain: z.string() }),
  /** Epoch milliseconds. */
  sessionExpiresAt: z.number(),
  sip: z.object({
    uri: z.string(),
    authorizationUser: z.string(),
    /** Derived from the web session; valid for digest only while the session lives. */
    password: z.string(),
    realm: z.string(),
    /** SIP over WebSocket on this origin. */
    path: z.string(),
  }),
  xmpp: z.object({
    jid: z.string(),
    password: z.string(),
    websocketPath: z.string(),
    boshPath: z.string(),
  }),
});
export type Profile = z.infer<typeof profile>;

export const logoutResponse = z.object({ ok: z.literal(true) });
