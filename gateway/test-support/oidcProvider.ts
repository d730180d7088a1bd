/**
 * A real OpenID Provider for tests: `oidc-provider` (a certified implementation) on loopback,
 * with its own login form (development interactions: a user name and a password field; the
 * accounts it knows are the test's). Consent is granted for the test client by itself, as an
 * organisation's IdP does for its own services. The issuer's port is reserved first, so the
 * gateway can be configured before the provider knows the gateway's redirect URI.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface OidcTestAccount {
  preferred_username?: string;
  name?: string;
  email?: string;
}

export interface OidcTestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Starts answering, for a client redirecting to these URIs. */
  start(redirectUris: string[], postLogoutRedirectUris?: string[]): void;
  /** How many times its end_session endpoint was visited. */
  readonly logouts: number;
  close(): Promise<void>;
}

export async function reserveOidcProvider(accounts: Record<string, OidcTestAccount>, clientId = 'parley', clientSecret = 'parley-test-client-secret-0123456789'): Promise<OidcTestProvider> {
  let handler: http.RequestListener = (_req, res) => {
    res.writeHead(503);
    res.end();
  };
  let logouts = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/session/end') && req.method === 'GET') logouts++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    clientId,
    clientSecret,
    get logouts() {
      return logouts;
    },
    start(redirectUris, postLogoutRedirectUris = []) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: redirectUris,
            post_logout_redirect_uris: postLogoutRedirectUris,
            response_types: ['code'],
            grant_types: ['authorization_code'],
          },
        ],
        claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'] },
        findAccount: (_ctx, id) => {
          const claims = accounts[id];
          return claims ? { accountId: id, claims: () => ({ sub: id, ...claims }) } : undefined;
        },
        pkce: { required: () => true },
        cookies: { keys: ['parley-test-idp-cookie-key'] },
        ttl: { Interaction: 600, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
        features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
        // The organisation's own service: no consent screen.
        loadExistingGrant: async (ctx) => {
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope('openid profile email');
          grant.addOIDCClaims(['preferred_username', 'name', 'email']);
          await grant.save();
          return grant;
        },
      });
      // Quiet: the warnings about its development defaults are expected here.
      provider.on('server_error', () => undefined);
      handler = provider.callback();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
