/**
 * Sign-in through the organisation's identity providers (contracts/rest/auth.ts signInOptions):
 *   GET  /api/sign-in-options                   the buttons the sign-in page shows
 *   GET  /auth/oidc/:id/start?next=/…           to the provider (PKCE, state, nonce in the transaction cookie)
 *   GET  /auth/oidc/:id/callback                back from it: account found or made, web session opened
 *   GET  /auth/saml/metadata                    this service provider's SAML metadata
 *   GET  /auth/saml/:id/start?next=/…           to a SAML IdP (signed AuthnRequest; RelayState sealed)
 *   GET  /auth/saml-federation/:id/choose       "where are you from": the federation's IdPs
 *   GET  /auth/saml-federation/:id/start?idp=…  to the chosen member IdP
 *   POST /auth/saml/acs                         the IdP's response (any SAML provider or federation)
 * A failure ends on a page that says what happened and what to do (signInErrorPage.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { SignInOptions } from '../../../../contracts/rest/auth.js';
import type { Logger } from '../../../../server-common/logger.js';
import { ExternalAccounts, SignInRefused, type AccountMappingConfig, type VerifiedIdentity } from '../../identity/externalAccounts.js';
import type { IdentityProviderConfig } from '../../identity/identityConfig.js';
import type { OidcSignIn } from '../../identity/oidc/oidcSignIn.js';
import { SignInFailed } from '../../identity/signInFailed.js';
import { openTransaction, safeNext, sealTransaction, SIGN_IN_COOKIE, SIGN_IN_SECONDS } from '../../identity/signInTransaction.js';
import type { SamlFederation } from '../../identity/saml/samlFederation.js';
import { sendFederationChooser } from '../federationChooserPage.js';
import type { SamlLogoutInfo, SamlServiceProvider, SamlSignIn } from '../../identity/saml/samlSignIn.js';
import type { SamlRequestRecords } from '../../storage/records/samlRequestRecords.js';
import { clientIp, readForm, sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import { sendSignInError } from '../signInErrorPage.js';
import { appendCookie, type AuthApi } from './authApi.js';

/** Remembers the organisation chosen in a federation's chooser (one cookie per federation). */
const IDP_CHOICE_COOKIE = 'parley_idp';

export interface IdentityApiOptions {
  auth: AuthApi;
  /** AuthnRequest ids waiting for their response (SAML). */
  samlRequests: SamlRequestRecords;
  /** This service provider's SAML key and certificate (made once, shared by the nodes). */
  samlCredentials: () => Promise<{ privateKey: string; certificate: string }>;
  externalAccounts: ExternalAccounts;
  providers: IdentityProviderConfig[];
  localLogin: boolean;
  publicUrl: () => string;
  transactionKey: Uint8Array;
  secureCookies: boolean;
  logger: Logger;
}

/** The mapping a provider's config gives, with the defaults for its kind. */
export function mappingOf(p: IdentityProviderConfig): AccountMappingConfig {
  const oidc = p.type === 'oidc';
  if (p.type === 'saml-federation') {
    // Many organisations: the whole scoped name (alice@uni-a.example → alice.uni-a.example) keeps them apart.
    return {
      username: p.username ?? ['eduPersonPrincipalName', 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6', 'mail', 'urn:oid:0.9.2342.19200300.100.1.3'],
      displayName: p.displayName ?? ['displayName', 'urn:oid:2.16.840.1.113730.3.1.241', 'cn', 'urn:oid:2.5.4.3'],
      suffix: p.suffix ?? '',
    };
  }
  return {
    // SAML: the scoped eduPersonPrincipalName's user part (its scope is the provider's suffix), else uid or mail.
    username:
      p.username ??
      (oidc
        ? ['preferred_username', 'email:local']
        : ['eduPersonPrincipalName:local', 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6:local', 'uid', 'urn:oid:0.9.2342.19200300.100.1.1', 'mail:local', 'urn:oid:0.9.2342.19200300.100.1.3:local']),
    displayName: p.displayName ?? (oidc ? ['name', 'given_name'] : ['displayName', 'urn:oid:2.16.840.1.113730.3.1.241', 'cn', 'urn:oid:2.5.4.3']),
    suffix: p.suffix ?? `.${p.id}`,
  };
}

export class IdentityApi {
  readonly #o: IdentityApiOptions;
  readonly #oidc = new Map<string, OidcSignIn>();
  readonly #saml = new Map<string, SamlSignIn>();
  readonly #federations = new Map<string, SamlFederation>();
  #spCredentials: Promise<{ privateKey: string; certificate: string }> | undefined;
  #spMetadata: { for: string; xml: string } | undefined;

  constructor(options: IdentityApiOptions) {
    this.#o = options;
  }

  /**
   * Sets up the configured providers (a federation's metadata is read and verified now: one that
   * does not verify stops the start). The OIDC and SAML libraries are loaded only for providers
   * that exist, so an installation without any does not hold them in memory.
   */
  async load(): Promise<void> {
    const { providers, samlRequests, logger } = this.#o;
    const sp = () => this.#serviceProvider();
    if (providers.some((p) => p.type === 'oidc')) {
      const { OidcSignIn } = await import('../../identity/oidc/oidcSignIn.js');
      for (const p of providers) if (p.type === 'oidc') this.#oidc.set(p.id, new OidcSignIn(p, logger));
    }
    if (providers.some((p) => p.type !== 'oidc')) {
      const [{ SamlSignIn }, { SamlFederation }, { samlIdpOf }] = await Promise.all([
        import('../../identity/saml/samlSignIn.js'),
        import('../../identity/saml/samlFederation.js'),
        import('../../identity/saml/samlIdps.js'),
      ]);
      for (const p of providers) {
        if (p.type === 'saml') this.#saml.set(p.id, new SamlSignIn({ id: p.id, name: p.name, ...samlIdpOf(p) }, sp, samlRequests, logger));
        if (p.type === 'saml-federation') this.#federations.set(p.id, new SamlFederation(p, sp, samlRequests, logger));
      }
    }
  }

  async #serviceProvider(): Promise<SamlServiceProvider> {
    // Made (or read) once; a failed read is tried again next time.
    this.#spCredentials ??= this.#o.samlCredentials().catch((err: unknown) => {
      this.#spCredentials = undefined;
      throw err;
    });
    const base = this.#o.publicUrl();
    return { entityId: `${base}/auth/saml/metadata`, acsUrl: `${base}/auth/saml/acs`, ...(await this.#spCredentials) };
  }

  register(router: Router): void {
    router.add('GET', '/api/sign-in-options', (_req, res) => {
      sendJson(res, 200, {
        localLogin: this.#o.localLogin,
        providers: this.#o.providers.map((p) => ({
          id: p.id,
          name: p.name,
          type: p.type,
          startUrl: p.type === 'saml-federation' ? `/auth/saml-federation/${p.id}/choose` : `/auth/${p.type}/${p.id}/start`,
        })),
      } satisfies SignInOptions);
    });
    router.add('GET', '/auth/oidc/:id/start', (req, res, params) => this.#oidcStart(req, res, params.id));
    router.add('GET', '/auth/oidc/:id/callback', (req, res, params) => this.#oidcCallback(req, res, params.id));
    router.add('GET', '/auth/saml/metadata', async (_req, res) => {
      // The same document every time (IdPs and federations compare what they fetched).
      const sp = await this.#serviceProvider();
      if (this.#spMetadata?.for !== sp.entityId) {
        const { serviceProviderMetadata } = await import('../../identity/saml/samlSignIn.js');
        this.#spMetadata = { for: sp.entityId, xml: serviceProviderMetadata(sp) };
      }
      res.writeHead(200, { 'Content-Type': 'application/samlmetadata+xml; charset=utf-8' });
      res.end(this.#spMetadata.xml);
    });
    router.add('GET', '/auth/saml/:id/start', (req, res, params) => this.#samlStart(req, res, params.id));
    router.add('GET', '/auth/saml-federation/:id/choose', (req, res, params) => this.#choose(req, res, params.id));
    router.add('GET', '/auth/saml-federation/:id/start', (req, res, params) => this.#federationStart(req, res, params.id));
    // The IdP's page posts the response here from its own origin: the SAML checks are the proof.
    router.add('POST', '/auth/saml/acs', (req, res) => this.#samlAcs(req, res), { crossSite: true });
  }

  async #samlStart(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const provider = this.#saml.get(id);
    if (!provider) return sendSignInError(res, 404, 'unknown_provider', 'There is no such way to sign in here. Go back and choose one of the buttons.');
    try {
      const next = safeNext(new URL(req.url ?? '/', 'http://x').searchParams.get('next'));
      // RelayState comes back with the response (a cross-site POST carries no Lax cookie).
      const relayState = await sealTransaction(id, { next }, this.#o.transactionKey);
      res.writeHead(302, { Location: await provider.start(relayState), 'Cache-Control': 'no-store' });
      res.end();
    } catch (err) {
      this.#fail(res, err, id);
    }
  }

  #choose(req: IncomingMessage, res: ServerResponse, id: string): void {
    const federation = this.#federations.get(id);
    if (!federation) return sendSignInError(res, 404, 'unknown_provider', 'There is no such way to sign in here. Go back and choose one of the buttons.');
    const url = new URL(req.url ?? '/', 'http://x');
    const next = safeNext(url.searchParams.get('next'));
    const members = federation.members();
    const last = parseCookie(req.headers.cookie ?? '')[`${IDP_CHOICE_COOKIE}_${id}`];
    sendFederationChooser(res, {
      federationName: federation.name,
      members,
      query: url.searchParams.get('q') ?? '',
      previous: members.find((m) => m.entityId === last),
      next,
      startUrl: (entityId) => `/auth/saml-federation/${id}/start?${new URLSearchParams({ idp: entityId, next })}`,
    });
  }

  async #federationStart(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const federation = this.#federations.get(id);
    const url = new URL(req.url ?? '/', 'http://x');
    const entityId = url.searchParams.get('idp') ?? '';
    const signIn = federation?.signInAt(entityId);
    if (!signIn) return sendSignInError(res, 404, 'unknown_provider', 'That organisation is not (or no longer) in the federation. Go back and choose yours again.');
    try {
      const next = safeNext(url.searchParams.get('next'));
      const relayState = await sealTransaction(id, { idp: entityId, next }, this.#o.transactionKey);
      // Remembered for the chooser next time ("your organisation last time").
      appendCookie(res, serializeCookie(`${IDP_CHOICE_COOKIE}_${id}`, entityId, { httpOnly: true, sameSite: 'lax', secure: this.#o.secureCookies, path: '/auth/', maxAge: 365 * 86400 }));
      res.writeHead(302, { Location: await signIn.start(relayState), 'Cache-Control': 'no-store' });
      res.end();
    } catch (err) {
      this.#fail(res, err, `${id}:${entityId}`);
    }
  }

  /** The SAML sign-in a sealed RelayState belongs to (an IdP of its own, or a federation member), and its transaction. */
  async #samlTransaction(relay: string): Promise<{ signIn: SamlSignIn; config: IdentityProviderConfig; transaction: Record<string, string> } | undefined> {
    for (const [id, signIn] of this.#saml) {
      const transaction = await openTransaction(id, relay, this.#o.transactionKey);
      if (transaction) return { signIn, config: this.#config(id)!, transaction };
    }
    for (const [id, federation] of this.#federations) {
      const transaction = await openTransaction(id, relay, this.#o.transactionKey);
      const signIn = transaction?.idp ? federation.signInAt(transaction.idp) : undefined;
      if (transaction && signIn) return { signIn, config: this.#config(id)!, transaction };
    }
    return undefined;
  }

  #config(id: string): IdentityProviderConfig | undefined {
    return this.#o.providers.find((p) => p.id === id);
  }

  async #samlAcs(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let providerId = 'saml';
    try {
      const form = await readForm(req);
      // Which IdP it is for: the sealed RelayState this gateway gave the browser.
      const found = await this.#samlTransaction(form.RelayState ?? '');
      if (!found) throw new SignInFailed('expired', 'This sign-in took too long or did not start here. Start again from the sign-in page.');
      providerId = found.signIn.idp.id;
      const { identity, logout } = await found.signIn.finish(form);
      await this.#signedIn(req, res, identity, mappingOf(found.config), { provider: providerId, logout: JSON.stringify({ saml: logout }) }, found.transaction.next);
    } catch (err) {
      this.#fail(res, err, providerId);
    }
  }

  stop(): void {
    for (const f of this.#federations.values()) f.stop();
  }

  /** Where a session that came from an identity provider signs out there too (RP-initiated logout). */
  async logoutUrl(provider: string, idpLogout: string | undefined): Promise<string | undefined> {
    const colon = provider.indexOf(':');
    const saml = colon > 0 ? this.#federations.get(provider.slice(0, colon))?.signInAt(provider.slice(colon + 1)) : this.#saml.get(provider);
    if (saml && idpLogout) {
      const info = (JSON.parse(idpLogout) as { saml?: SamlLogoutInfo }).saml;
      return info ? saml.logoutUrl(info, '/') : undefined;
    }
    const oidc = this.#oidc.get(provider);
    if (!oidc) return undefined;
    const hint = idpLogout ? (JSON.parse(idpLogout) as { idToken?: string }).idToken : undefined;
    return oidc.logoutUrl(hint, `${this.#o.publicUrl()}/`);
  }

  #redirectUri(kind: string, id: string): string {
    return `${this.#o.publicUrl()}/auth/${kind}/${id}/callback`;
  }

  async #oidcStart(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const provider = this.#oidc.get(id);
    if (!provider) return sendSignInError(res, 404, 'unknown_provider', 'There is no such way to sign in here. Go back and choose one of the buttons.');
    try {
      const { url, transaction } = await provider.start(this.#redirectUri('oidc', id));
      const next = safeNext(new URL(req.url ?? '/', 'http://x').searchParams.get('next'));
      await this.#redirectWithTransaction(res, id, { ...transaction, next }, url);
    } catch (err) {
      this.#fail(res, err, id);
    }
  }

  async #oidcCallback(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const provider = this.#oidc.get(id);
    if (!provider) return sendSignInError(res, 404, 'unknown_provider', 'There is no such way to sign in here. Go back and choose one of the buttons.');
    const transaction = await openTransaction(id, parseCookie(req.headers.cookie ?? '')[SIGN_IN_COOKIE], this.#o.transactionKey);
    this.#clearTransaction(res);
    try {
      if (!transaction?.state || !transaction.verifier || !transaction.nonce) {
        throw new SignInFailed('expired', 'This sign-in took too long or was started in another browser. Start again from the sign-in page.');
      }
      const callback = new URL(req.url ?? '/', 'http://x');
      const { identity, idToken } = await provider.finish(callback, this.#redirectUri('oidc', id), {
        verifier: transaction.verifier,
        state: transaction.state,
        nonce: transaction.nonce,
      });
      await this.#signedIn(req, res, identity, mappingOf(this.#config(id)!), { provider: id, logout: idToken ? JSON.stringify({ idToken }) : undefined }, transaction.next);
    } catch (err) {
      this.#fail(res, err, id);
    }
  }

  /** The identity is verified: its account (made now at a first sign-in), a web session, and on into the app. */
  async #signedIn(
    req: IncomingMessage,
    res: ServerResponse,
    identity: VerifiedIdentity,
    mapping: AccountMappingConfig,
    idp: { provider: string; logout?: string },
    next: string | undefined,
  ): Promise<void> {
    const { account, created } = await this.#o.externalAccounts.accountFor(identity, mapping);
    await this.#o.auth.startSession(req, res, account.username, idp);
    this.#o.logger.info({ username: account.username, provider: identity.provider, created, ip: clientIp(req) }, created ? 'account created at first sign-in' : 'signed in');
    res.writeHead(303, { Location: safeNext(next), 'Cache-Control': 'no-store' });
    res.end();
  }

  async #redirectWithTransaction(res: ServerResponse, provider: string, data: Record<string, string>, location: string): Promise<void> {
    const sealed = await sealTransaction(provider, data, this.#o.transactionKey);
    // Lax: the provider sends the browser back with a top-level GET, which carries it.
    appendCookie(res, serializeCookie(SIGN_IN_COOKIE, sealed, { httpOnly: true, sameSite: 'lax', secure: this.#o.secureCookies, path: '/auth/', maxAge: SIGN_IN_SECONDS }));
    res.writeHead(302, { Location: location, 'Cache-Control': 'no-store' });
    res.end();
  }

  #clearTransaction(res: ServerResponse): void {
    appendCookie(res, serializeCookie(SIGN_IN_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: '/auth/', maxAge: 0 }));
  }

  #fail(res: ServerResponse, err: unknown, provider: string): void {
    if (err instanceof SignInFailed) {
      this.#o.logger.info({ provider, code: err.code }, 'sign-in at identity provider failed');
      return sendSignInError(res, err.code === 'idp_unreachable' ? 502 : 400, err.code, err.message);
    }
    if (err instanceof SignInRefused) {
      this.#o.logger.info({ provider, code: err.code }, 'sign-in refused');
      return sendSignInError(res, 403, err.code, err.message);
    }
    this.#o.logger.error({ provider, err }, 'sign-in at identity provider failed');
    sendSignInError(res, 500, 'internal_error', 'Something went wrong on the server during sign-in. Try again; if it keeps happening, tell your administrator.');
  }
}
