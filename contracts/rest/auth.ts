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

export const logoutResponse = z.object({
  ok: z.literal(true),
  /** Signed in through an identity provider that offers logout: the page goes there next. */
  idpLogoutUrl: z.string().optional(),
});

/** GET /api/sign-in-options: how people can sign in here (shown before anyone is signed in). */
export const signInOptions = z.object({
  /** Whether the user name + password form is offered (PARLEY_LOCAL_LOGIN). */
  localLogin: z.boolean(),
  providers: z.array(
    z.object({
      id: z.string(),
      /** "University A" — the button says "Sign in with University A". */
      name: z.string(),
      type: z.enum(['oidc', 'saml', 'saml-federation']),
      /** Where the button goes (a federation: its "where are you from" chooser). */
      startUrl: z.string(),
    }),
  ),
});
export type SignInOptions = z.infer<typeof signInOptions>;
