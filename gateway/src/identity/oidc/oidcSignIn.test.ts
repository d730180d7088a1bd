/**
 * Sign-in with OpenID Connect against a real provider (oidc-provider) through the running
 * gateway, followed the way a browser does (redirects, cookies per site, the provider's login
 * form): accounts made at the first sign-in, kept apart from local ones, and each failure ends
 * on a page that says what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profile, signInOptions } from '../../../../contracts/rest/auth.js';
import { HttpBrowser, type HttpPage } from '../../../test-support/httpBrowser.js';
import { reserveOidcProvider, type OidcTestProvider } from '../../../test-support/oidcProvider.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let idp: OidcTestProvider;
let gw: TestGateway;
let dir: string;

beforeAll(async () => {
  idp = await reserveOidcProvider({
    'alice-42': { preferred_username: 'Alice', name: 'Alice Liddell', email: 'alice@uni-a.example' },
    'bob-7': { email: 'Bob.Builder@uni-a.example', name: 'Bob Builder' },
    nameless: {},
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-oidc-'));
  const file = path.join(dir, 'providers.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      providers: [
        { type: 'oidc', id: 'uni-a', name: 'University A', issuer: idp.issuer, clientId: idp.clientId, clientSecretEnv: 'UNI_A_SECRET' },
        // Nothing listens there: the "cannot be reached" page.
        { type: 'oidc', id: 'down', name: 'Down University', issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y' },
      ],
    }),
  );
  process.env.UNI_A_SECRET = idp.clientSecret;
  gw = await startTestGateway({ PARLEY_IDENTITY_PROVIDERS: file, UNI_A_SECRET: idp.clientSecret });
  await gw.addUser('alice', TEST_PASSWORD, 'Local Alice');
  idp.start([`${base()}/auth/oidc/uni-a/callback`], [`${base()}/`]);
});

afterAll(async () => {
  await gw?.stop();
  await idp?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Where people reach the gateway (PARLEY_PUBLIC_URL): the redirect URI registered at the provider names it. */
const base = () => gw.gateway.http.publicUrl;
const host = () => new URL(base()).host;
/** Signs in at oidc-provider's own login form (the page `start` ended on). */
const loginAtIdp = (browser: HttpBrowser, page: HttpPage, login: string) => browser.submitForm(page, { prompt: 'login', login, password: 'any password' });

const reasonOf = (html: string) => /<p id="reason" data-code="([^"]+)">([^<]+)<\/p>/.exec(html)?.slice(1) ?? [];

describe('sign-in with OpenID Connect', () => {
  it('lists a button per provider', async () => {
    const options = signInOptions.parse(await (await fetch(`${base()}/api/sign-in-options`)).json());
    expect(options).toEqual({
      localLogin: true,
      providers: [
        { id: 'uni-a', name: 'University A', type: 'oidc', startUrl: '/auth/oidc/uni-a/start' },
        { id: 'down', name: 'Down University', type: 'oidc', startUrl: '/auth/oidc/down/start' },
      ],
    });
  });

  it('makes the account at the first sign-in (PKCE, state and nonce), apart from the local "alice", and finds it again the next time', async () => {
    const browser = new HttpBrowser();
    const atIdp = await browser.go(`${base()}/auth/oidc/uni-a/start?next=/chats`);
    expect(atIdp.url.startsWith(idp.issuer)).toBe(true);
    const authorize = new URL(browser.visited.find((u) => u.startsWith(`${idp.issuer}/auth`))!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    const back = await loginAtIdp(browser, atIdp, 'alice-42');
    expect(new URL(back.url).pathname).toBe('/chats');
    const session = browser.cookie(host(), 'parley_session');
    expect(session).toBeTruthy();
    const me = profile.parse(await (await fetch(`${base()}/api/me`, { headers: { cookie: `parley_session=${session}` } })).json());
    expect(me.user).toEqual({ username: 'alice.uni-a', displayName: 'Alice Liddell', domain: 'localhost' });
    expect(me.sip.uri).toBe('sip:alice.uni-a@localhost');
    expect((await gw.gateway.accounts.get('alice'))?.displayName).toBe('Local Alice');

    const again = new HttpBrowser();
    await loginAtIdp(again, await again.go(`${base()}/auth/oidc/uni-a/start`), 'alice-42');
    const second = profile.parse(await (await fetch(`${base()}/api/me`, { headers: { cookie: `parley_session=${again.cookie(host(), 'parley_session')}` } })).json());
    expect(second.user.username).toBe('alice.uni-a');
    expect((await gw.gateway.accounts.list()).filter((a) => a.provider === 'uni-a').map((a) => a.username)).toEqual(['alice.uni-a']);
  });

  it('takes the user name from the e-mail address when the provider gives no preferred_username, and refuses one that gives neither', async () => {
    const browser = new HttpBrowser();
    await loginAtIdp(browser, await browser.go(`${base()}/auth/oidc/uni-a/start`), 'bob-7');
    expect((await gw.gateway.accounts.get('bob.builder.uni-a'))?.displayName).toBe('Bob Builder');

    const nameless = new HttpBrowser();
    const refused = await loginAtIdp(nameless, await nameless.go(`${base()}/auth/oidc/uni-a/start`), 'nameless');
    expect(refused.status).toBe(403);
    expect(reasonOf(refused.text)).toEqual(['no_username', expect.stringMatching(/did not tell Parley a user name/)]);
  });

  it('says so when the person cancels at the provider, the state does not match, the sign-in expired, or the callback is replayed', async () => {
    const cancelling = new HttpBrowser();
    const form = await cancelling.go(`${base()}/auth/oidc/uni-a/start`);
    const abort = /href="([^"]*abort[^"]*)"/.exec(form.text)![1];
    const cancelled = await cancelling.go(new URL(abort, form.url).href);
    expect(cancelled.status).toBe(400);
    expect(reasonOf(cancelled.text)[0]).toBe('cancelled');
    expect(cancelled.text).toContain('Back to sign-in');
    expect(cancelled.text).not.toMatch(/at \w+ \(|node_modules/); // no stack trace

    const browser = new HttpBrowser();
    await browser.go(`${base()}/auth/oidc/uni-a/start`);
    const forged = await browser.go(`${base()}/auth/oidc/uni-a/callback?code=abc&state=not-the-state`);
    expect(reasonOf(forged.text)[0]).toBe('state_mismatch');

    const stranger = new HttpBrowser();
    const noTransaction = await stranger.go(`${base()}/auth/oidc/uni-a/callback?code=abc&state=whatever`);
    expect(reasonOf(noTransaction.text)[0]).toBe('expired');

    // The same callback again (its code used, its transaction cookie gone): refused.
    const first = new HttpBrowser();
    await loginAtIdp(first, await first.go(`${base()}/auth/oidc/uni-a/start`), 'alice-42');
    const callback = first.visited.find((u) => u.includes('/auth/oidc/uni-a/callback'))!;
    const replay = await first.go(callback);
    expect(replay.status).toBe(400);
    expect(reasonOf(replay.text)[0]).toBe('expired');
  });

  it('says the provider cannot be reached when it is down', async () => {
    const page = await new HttpBrowser().go(`${base()}/auth/oidc/down/start`);
    expect(page.status).toBe(502);
    expect(reasonOf(page.text)).toEqual(['idp_unreachable', expect.stringMatching(/Down University cannot be reached right now/)]);
  });

  it('signs out at the provider too: /api/logout names its end-session URL, and the session is gone', async () => {
    const browser = new HttpBrowser();
    await loginAtIdp(browser, await browser.go(`${base()}/auth/oidc/uni-a/start`), 'alice-42');
    const cookie = `parley_session=${browser.cookie(host(), 'parley_session')}`;
    const out = (await (await fetch(`${base()}/api/logout`, { method: 'POST', headers: { cookie } })).json()) as { ok: boolean; idpLogoutUrl?: string };
    expect(out.ok).toBe(true);
    const end = new URL(out.idpLogoutUrl!);
    expect(end.origin + end.pathname).toBe(`${idp.issuer}/session/end`);
    expect(end.searchParams.get('id_token_hint')).toBeTruthy();
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${base()}/`);
    expect((await fetch(`${base()}/api/me`, { headers: { cookie } })).status).toBe(401);
  });
});
