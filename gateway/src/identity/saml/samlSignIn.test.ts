/**
 * Sign-in with SAML 2.0 against a real IdP (samlify in its IdP role) through the running
 * gateway: the SP's metadata, a signed AuthnRequest, the IdP's login form, the POSTed response;
 * and every response a service provider must refuse — another signing key, no signature,
 * tampered after signing, another audience, expired, replayed, unsolicited, cancelled.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profile } from '../../../../contracts/rest/auth.js';
import { HttpBrowser, type HttpPage } from '../../../test-support/httpBrowser.js';
import { SamlTestIdp, type ResponseOptions } from '../../../test-support/samlIdp.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let idp: SamlTestIdp;
let gw: TestGateway;
let dir: string;

beforeAll(async () => {
  idp = new SamlTestIdp({
    carol: { password: 'carol-at-uni-b', persistentId: 'p-carol-0001', attributes: { eduPersonPrincipalName: 'carol@uni-b.example', displayName: 'Carol Danvers', mail: 'carol@uni-b.example' } },
    dave: { password: 'dave-at-uni-b', attributes: { eduPersonPrincipalName: 'dave@uni-b.example', displayName: 'Dave D.' } },
  });
  await idp.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-saml-'));
  fs.writeFileSync(path.join(dir, 'uni-b-idp.xml'), idp.metadata);
  // As an operator writes it: the IdP's metadata file, relative to the providers file.
  fs.writeFileSync(path.join(dir, 'providers.json'), JSON.stringify({ providers: [{ type: 'saml', id: 'uni-b', name: 'University B', metadataFile: 'uni-b-idp.xml' }] }));
  gw = await startTestGateway({ PARLEY_IDENTITY_PROVIDERS: path.join(dir, 'providers.json') });
  await gw.addUser('carol', TEST_PASSWORD, 'Local Carol');
  idp.trust(await (await fetch(`${base()}/auth/saml/metadata`)).text());
});

afterAll(async () => {
  await gw?.stop();
  await idp?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const base = () => gw.gateway.http.publicUrl;
const host = () => new URL(base()).host;
const reasonOf = (html: string) => /<p id="reason" data-code="([^"]+)">([^<]+)<\/p>/.exec(html)?.slice(1) ?? [];

/** Starts a sign-in at the gateway; the IdP's login form, with the request id and RelayState it carries. */
async function startSignIn(browser = new HttpBrowser()): Promise<{ browser: HttpBrowser; form: HttpPage; requestId: string; relayState: string }> {
  const form = await browser.go(`${base()}/auth/saml/uni-b/start?next=/calls`);
  expect(form.url.startsWith(`${idp.base}/sso`)).toBe(true);
  return { browser, form, requestId: HttpBrowser.hidden(form, 'request')!, relayState: HttpBrowser.hidden(form, 'relay')! };
}

/** Posts a SAMLResponse to the ACS as the IdP's page would. */
function postToAcs(browser: HttpBrowser, samlResponse: string, relayState: string): Promise<HttpPage> {
  return browser.go(`${base()}/auth/saml/acs`, { method: 'POST', form: { SAMLResponse: samlResponse, RelayState: relayState } });
}

async function me(browser: HttpBrowser) {
  const res = await fetch(`${base()}/api/me`, { headers: { cookie: `parley_session=${browser.cookie(host(), 'parley_session')}` } });
  return res.status === 200 ? profile.parse(await res.json()) : undefined;
}

describe('sign-in with SAML 2.0', () => {
  it('publishes the service provider metadata at a stable URL', async () => {
    const res = await fetch(`${base()}/auth/saml/metadata`);
    expect(res.headers.get('content-type')).toMatch(/^application\/samlmetadata\+xml/);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${base()}/auth/saml/metadata"`);
    expect(xml).toMatch(new RegExp(`AssertionConsumerService[^>]*Location="${base()}/auth/saml/acs"`));
    expect(xml).toContain('<ds:X509Certificate>');
    // The same pair on the next request (kept in the shared secrets).
    expect(await (await fetch(`${base()}/auth/saml/metadata`)).text()).toBe(xml);
  });

  it('signs in at the IdP’s login form with a signed AuthnRequest and makes the account from eduPersonPrincipalName, apart from the local "carol"', async () => {
    const { browser, form } = await startSignIn();
    expect(idp.signedRequests).toBeGreaterThan(0);
    const wrong = await browser.submitForm(form, { username: 'carol', password: 'not her password' });
    expect(wrong.text).toContain('Wrong user name or password');
    const posting = await browser.submitForm(wrong, { username: 'carol', password: 'carol-at-uni-b' });
    // The IdP's auto-submitting form, as the browser runs it.
    const landed = await browser.submitForm(posting);
    expect(new URL(landed.url).pathname).toBe('/calls');
    expect((await me(browser))?.user).toEqual({ username: 'carol.uni-b', displayName: 'Carol Danvers', domain: 'localhost' });
    expect((await gw.gateway.accounts.get('carol'))?.displayName).toBe('Local Carol');

    // Next time, the same account (by the persistent NameID).
    const again = await startSignIn();
    await again.browser.submitForm(await again.browser.submitForm(again.form, { username: 'carol', password: 'carol-at-uni-b' }));
    expect((await me(again.browser))?.user.username).toBe('carol.uni-b');
  });

  it('refuses a replayed response: the same signed answer posted again', async () => {
    const { browser, requestId, relayState } = await startSignIn();
    const response = await idp.response('dave', { inResponseTo: requestId });
    const okPage = await postToAcs(browser, response, relayState);
    expect(new URL(okPage.url).pathname, reasonOf(okPage.text).join(' ')).toBe('/calls');
    expect((await me(browser))?.user.username).toBe('dave.uni-b');
    const replay = await postToAcs(new HttpBrowser(), response, relayState);
    expect(replay.status).toBe(400);
    expect(reasonOf(replay.text)).toEqual(['state_mismatch', expect.stringMatching(/used already/)]);
  });

  const refusals: Array<[string, Omit<ResponseOptions, 'inResponseTo'>, string, RegExp]> = [
    ['signed with another key', { otherKey: true }, 'invalid_response', /not signed with its key/],
    ['not signed at all', { unsigned: true }, 'invalid_response', /not signed with its key/],
    ['tampered after signing', { tamper: { from: 'dave@uni-b.example', to: 'carol@uni-b.example' } }, 'invalid_response', /not signed with its key/],
    ['for another audience', { audience: 'https://other-service.example/sp' }, 'invalid_response', /another service/],
    ['expired', { validMinutes: -10 }, 'expired', /has expired/],
    ['cancelled at the IdP', { status: 'authn-failed' }, 'cancelled', /cancelled or refused/],
  ];
  for (const [what, options, code, message] of refusals) {
    it(`refuses a response ${what}, on a page that says so`, async () => {
      const { browser, requestId, relayState } = await startSignIn();
      const page = await postToAcs(browser, await idp.response('dave', { inResponseTo: requestId, ...options }), relayState);
      expect(page.status).toBe(400);
      expect(reasonOf(page.text)).toEqual([code, expect.stringMatching(message)]);
      expect(page.text).not.toMatch(/at \w+ \(|node_modules/);
      expect(browser.cookie(host(), 'parley_session')).toBeUndefined();
    });
  }

  it('refuses a response nobody asked for (unknown InResponseTo) and one without its RelayState', async () => {
    const { browser, relayState } = await startSignIn();
    const unsolicited = await postToAcs(browser, await idp.response('dave', { inResponseTo: '_never-sent' }), relayState);
    expect(reasonOf(unsolicited.text)[0]).toBe('state_mismatch');
    const { requestId } = await startSignIn();
    const noRelay = await postToAcs(new HttpBrowser(), await idp.response('dave', { inResponseTo: requestId }), '');
    expect(reasonOf(noRelay.text)[0]).toBe('expired');
    const garbage = await postToAcs(new HttpBrowser(), Buffer.from('<not-saml').toString('base64'), relayState);
    expect(garbage.status).toBe(400);
  });
});
