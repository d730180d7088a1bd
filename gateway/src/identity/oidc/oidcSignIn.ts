/**
 * Sign-in with an OpenID Connect provider (openid-client): discovery from the issuer URL, the
 * authorization code flow with PKCE (S256), `state` and `nonce` checked, and the ID token
 * validated by openid-client (signature against the provider's JWKS, issuer, audience, expiry,
 * nonce). What the browser must bring back (verifier, state, nonce) travels in the sign-in
 * transaction cookie (signInTransaction.ts), not in server memory: any gateway node can finish.
 */
import * as oidc from 'openid-client';
import type { Logger } from '../../../../server-common/logger.js';
import { clientSecretOf, type OidcProviderConfig } from '../identityConfig.js';
import type { VerifiedIdentity } from '../externalAccounts.js';
import { SignInFailed } from '../signInFailed.js';

export interface OidcTransaction {
  verifier: string;
  state: string;
  nonce: string;
}

/** How long a discovery failure is remembered before the provider is asked again. */
const RETRY_DISCOVERY_MS = 10_000;

const isLoopback = (url: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

export class OidcSignIn {
  readonly #p: OidcProviderConfig;
  readonly #log: Logger;
  #config: Promise<oidc.Configuration> | undefined;
  #failedAt = 0;

  constructor(provider: OidcProviderConfig, logger: Logger) {
    this.#p = provider;
    this.#log = logger;
  }

  get id(): string {
    return this.#p.id;
  }

  get name(): string {
    return this.#p.name;
  }

  /** The provider's URL to send the browser to, and what the callback must match. */
  async start(redirectUri: string): Promise<{ url: string; transaction: OidcTransaction }> {
    const config = await this.#discovered();
    const verifier = oidc.randomPKCECodeVerifier();
    const transaction = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.#p.scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return { url: url.href, transaction };
  }

  /** Checks the callback and the ID token; what the provider says about the person, and the id_token for logout. */
  async finish(callbackUrl: URL, redirectUri: string, transaction: OidcTransaction): Promise<{ identity: VerifiedIdentity; idToken?: string }> {
    const error = callbackUrl.searchParams.get('error');
    if (error && callbackUrl.searchParams.get('state') === transaction.state) {
      if (error === 'access_denied' || error === 'login_required' || error === 'consent_required') {
        throw new SignInFailed('cancelled', `The sign-in at ${this.#p.name} was cancelled. You can try again.`);
      }
      throw new SignInFailed('invalid_response', `${this.#p.name} refused the sign-in (${error.slice(0, 60)}). Try again, or ask your administrator.`);
    }
    if (callbackUrl.searchParams.get('state') !== transaction.state) {
      throw new SignInFailed('state_mismatch', 'This sign-in was started in another tab or has been used already. Start again from the sign-in page.');
    }
    const config = await this.#discovered();
    // The redirect URI registered with the provider, whatever address the request came in on.
    const current = new URL(redirectUri);
    current.search = callbackUrl.search;
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: transaction.verifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      this.#log.warn({ provider: this.#p.id, err: (err as Error).message, code: (err as { code?: string }).code }, 'OpenID Connect sign-in refused');
      if (isNetworkError(err)) throw new SignInFailed('idp_unreachable', unreachable(this.#p.name));
      throw new SignInFailed('invalid_response', `${this.#p.name} sent an answer Parley cannot accept (it is logged for your administrator). Try again.`);
    }
    const claims = tokens.claims();
    if (!claims?.sub) throw new SignInFailed('invalid_response', `${this.#p.name} did not say who you are. Ask your administrator.`);
    let attributes: Record<string, unknown> = { ...claims };
    // Some providers put profile claims only in the UserInfo response.
    if (tokens.access_token && !claims.preferred_username && !claims.email && config.serverMetadata().userinfo_endpoint) {
      try {
        attributes = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...attributes };
      } catch (err) {
        this.#log.warn({ provider: this.#p.id, err: (err as Error).message }, 'OpenID Connect UserInfo not read');
      }
    }
    return { identity: { provider: this.#p.id, subject: claims.sub, attributes }, idToken: tokens.id_token };
  }

  /** The provider's logout URL (RP-initiated logout), when it offers one. */
  async logoutUrl(idToken: string | undefined, postLogoutRedirectUri: string): Promise<string | undefined> {
    const config = await this.#discovered().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return oidc
      .buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutRedirectUri, ...(idToken && { id_token_hint: idToken }) })
      .toString();
  }

  #discovered(): Promise<oidc.Configuration> {
    if (this.#config && !(this.#failedAt && Date.now() - this.#failedAt > RETRY_DISCOVERY_MS)) return this.#config;
    const issuer = new URL(this.#p.issuer);
    this.#failedAt = 0;
    const attempt = oidc
      .discovery(
        issuer,
        this.#p.clientId,
        clientSecretOf(this.#p),
        undefined,
        // Plain http only for a provider on this machine (tests, a local Keycloak); never across a network.
        isLoopback(issuer) ? { execute: [oidc.allowInsecureRequests], timeout: 10 } : { timeout: 10 },
      )
      .catch((err: unknown) => {
        this.#failedAt = Date.now();
        this.#log.warn({ provider: this.#p.id, issuer: this.#p.issuer, err: (err as Error).message }, 'OpenID Connect discovery failed');
        throw new SignInFailed('idp_unreachable', unreachable(this.#p.name));
      });
    this.#config = attempt;
    return attempt;
  }
}

const unreachable = (name: string) => `${name} cannot be reached right now. Try again in a few minutes; if it keeps happening, tell your administrator.`;

function isNetworkError(err: unknown): boolean {
  const e = err as { cause?: { code?: string }; name?: string; code?: string };
  return e?.name === 'TypeError' || e?.name === 'TimeoutError' || e?.name === 'AbortError' || /^E(CONNREFUSED|CONNRESET|HOSTUNREACH|NOTFOUND|TIMEDOUT)/.test(e?.cause?.code ?? '');
}
