/** Sign-in, the signed-in user, sign-out: POST /api/login, GET /api/me, POST /api/logout. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import { loginRequest, type Profile } from '../../../../contracts/rest/auth.js';
import type { AccountStore } from '../../directory/accountStore.js';
import { normalizeUsername } from '../../directory/accountStore.js';
import type { LoginThrottle } from '../../session/loginThrottle.js';
import type { Session, SessionStore } from '../../session/sessionStore.js';
import type { Logger } from '../../../../server-common/logger.js';
import { clientIp, HttpError, readJson, sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';

export const SESSION_COOKIE = 'parley_session';

export interface AuthApiOptions {
  accounts: AccountStore;
  sessions: SessionStore;
  throttle: LoginThrottle;
  domain: string;
  secureCookies: boolean;
  sessionTtlSeconds: number;
  /** Whether local passwords sign in on the web (PARLEY_LOCAL_LOGIN). */
  localLogin: boolean;
  /** Where the browser goes to sign out at the identity provider a session came from, if it offers that. */
  idpLogoutUrl?: (session: Session) => Promise<string | undefined>;
  logger: Logger;
}

export interface AuthenticatedRequest {
  session: Session;
  token: string;
}

/** Adds a Set-Cookie header (a response may set the session cookie and clear another). */
export function appendCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('Set-Cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}

export class AuthApi {
  constructor(private readonly o: AuthApiOptions) {}

  register(router: Router): void {
    router.add('POST', '/api/login', (req, res) => this.#login(req, res));
    router.add('POST', '/api/logout', (req, res) => this.#logout(req, res));
    router.add('GET', '/api/me', async (req, res) => {
      const auth = await this.require(req);
      sendJson(res, 200, await this.#profile(auth));
    });
  }

  /** The session behind the request's cookie, or undefined. */
  async sessionOf(req: IncomingMessage): Promise<AuthenticatedRequest | undefined> {
    const token = parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];
    if (!token) return undefined;
    const session = await this.o.sessions.get(token);
    return session ? { session, token } : undefined;
  }

  /** The session, or a 401 telling the client to sign in. */
  async require(req: IncomingMessage): Promise<AuthenticatedRequest> {
    const auth = await this.sessionOf(req);
    if (!auth) throw new HttpError(401, 'not_signed_in', 'Sign in first');
    return auth;
  }

  async #login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.o.localLogin) throw new HttpError(403, 'local_login_off', 'Sign in with your organisation’s account (the buttons on the sign-in page).');
    const body = await readJson(req, loginRequest);
    const username = normalizeUsername(body.username);
    const ip = clientIp(req);
    const wait = this.o.throttle.retryAfter(username, ip);
    if (wait > 0) {
      throw new HttpError(
        429,
        'too_many_attempts',
        `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute${wait > 60 ? 's' : ''}.`,
        { 'Retry-After': String(wait) },
      );
    }
    if (!(await this.o.accounts.verifyPassword(username, body.password))) {
      this.o.throttle.fail(username, ip);
      this.o.logger.info({ username, ip }, 'sign-in failed');
      throw new HttpError(401, 'invalid_credentials', 'Wrong username or password');
    }
    this.o.throttle.succeed(username, ip);
    const auth = await this.startSession(req, res, username);
    this.o.logger.info({ username, ip }, 'signed in');
    sendJson(res, 200, await this.#profile(auth));
  }

  /** Opens a web session for `username` and sets its cookie on `res` (local password or an identity provider). */
  async startSession(req: IncomingMessage, res: ServerResponse, username: string, idp?: { provider: string; logout?: string }): Promise<AuthenticatedRequest> {
    const { token, session } = await this.o.sessions.create(username, req.headers['user-agent'], idp);
    appendCookie(
      res,
      serializeCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'lax',
        secure: this.o.secureCookies,
        path: '/',
        maxAge: this.o.sessionTtlSeconds,
      }),
    );
    return { session, token };
  }

  async #logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = await this.sessionOf(req);
    if (auth) await this.o.sessions.delete(auth.token);
    res.setHeader('Set-Cookie', serializeCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 0 }));
    // Signed in through an identity provider: the browser goes on to its logout, where it has one.
    const idpLogoutUrl = auth?.session.provider ? await this.o.idpLogoutUrl?.(auth.session).catch(() => undefined) : undefined;
    sendJson(res, 200, { ok: true, ...(idpLogoutUrl && { idpLogoutUrl }) });
  }

  async #profile({ session, token }: AuthenticatedRequest): Promise<Profile> {
    const account = await this.o.accounts.get(session.username);
    if (!account) throw new HttpError(401, 'not_signed_in', 'This account no longer exists');
    if (account.disabledAt !== undefined) throw new HttpError(401, 'account_disabled', 'This account has been disabled. Ask your administrator.');
    // A credential derived from this session for SIP digest and XMPP SASL: it expires and is
    // revoked with the session, so the browser never keeps the account password.
    const credential = this.o.sessions.credentialFor(token);
    return {
      user: { username: account.username, displayName: account.displayName, domain: this.o.domain },
      sessionExpiresAt: session.expiresAt,
      sip: {
        uri: `sip:${account.username}@${this.o.domain}`,
        authorizationUser: account.username,
        password: credential,
        realm: this.o.domain,
        path: '/sip',
      },
      xmpp: {
        jid: `${account.username}@${this.o.domain}`,
        password: credential,
        websocketPath: '/xmpp',
        boshPath: '/http-bind',
      },
    };
  }
}
