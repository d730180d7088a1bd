/**
 * A SAML federation: the operator's signed metadata aggregate lists many IdPs; the gateway uses
 * it only when the signature verifies with the configured certificate and covers the whole
 * aggregate; people find their organisation in the "where are you from" chooser (search with
 * and without script), sign in at its IdP (samlify), and land with an account named after their
 * scoped eduPersonPrincipalName, so two organisations' "alice" never meet.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profile, signInOptions } from '../../../../contracts/rest/auth.js';
import { fakeIdp, federationOperator, signedAggregate, withDisplayName, type FederationOperator } from '../../../test-support/federationMetadata.js';
import { HttpBrowser } from '../../../test-support/httpBrowser.js';
import { SamlTestIdp } from '../../../test-support/samlIdp.js';
import { startTestGateway, type TestGateway } from '../../../test-support/testGateway.js';
import { verifyFederationMetadata } from './federationMetadata.js';

let uniA: SamlTestIdp;
let uniB: SamlTestIdp;
let operator: FederationOperator;
let gw: TestGateway;
let dir: string;
let aggregate: string;

beforeAll(async () => {
  // Two member universities each with an "alice"; and made-up members to search among.
  uniA = new SamlTestIdp({ alice: { password: 'alice-a', attributes: { eduPersonPrincipalName: 'alice@uni-a.example', displayName: 'Alice of A' } } });
  uniB = new SamlTestIdp({ alice: { password: 'alice-b', attributes: { eduPersonPrincipalName: 'alice@uni-b.example', displayName: 'Alice of B' } } });
  await Promise.all([uniA.start(), uniB.start()]);
  operator = await federationOperator();
  aggregate = signedAggregate(
    [
      withDisplayName(uniA.metadata, 'University A'),
      withDisplayName(uniB.metadata, 'University B'),
      fakeIdp('https://idp.college-c.example', 'Technical College C', uniA.certificateBase64),
      fakeIdp('https://idp.school-d.example', 'School of Design D', uniA.certificateBase64),
    ],
    operator,
  );
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-federation-'));
  fs.writeFileSync(path.join(dir, 'federation.xml'), aggregate);
  fs.writeFileSync(path.join(dir, 'federation-signer.pem'), operator.cert);
  fs.writeFileSync(
    path.join(dir, 'providers.json'),
    JSON.stringify({ providers: [{ type: 'saml-federation', id: 'edu', name: 'the Test Federation', metadataFile: 'federation.xml', metadataSigningCertificate: 'federation-signer.pem' }] }),
  );
  gw = await startTestGateway({ PARLEY_IDENTITY_PROVIDERS: path.join(dir, 'providers.json') });
  const spMetadata = await (await fetch(`${base()}/auth/saml/metadata`)).text();
  uniA.trust(spMetadata);
  uniB.trust(spMetadata);
});

afterAll(async () => {
  await gw?.stop();
  await uniA?.stop();
  await uniB?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const base = () => gw.gateway.http.publicUrl;
const host = () => new URL(base()).host;
const names = (html: string) => [...html.matchAll(/<li data-name="[^"]*"><a href="[^"]*">([^<]+)<\/a><\/li>/g)].map((m) => m[1]);

async function signInVia(name: string, username: string, password: string): Promise<HttpBrowser> {
  const browser = new HttpBrowser();
  const chooser = await browser.go(`${base()}/auth/saml-federation/edu/choose?next=/chats`);
  const href = new RegExp(`<a href="([^"]+)">${name}</a>`).exec(chooser.text)![1].replace(/&#38;/g, '&');
  const form = await browser.go(new URL(href, base()).href);
  await browser.submitForm(await browser.submitForm(form, { username, password }));
  return browser;
}

describe('a SAML federation', () => {
  it('offers one button that opens the chooser, listing every member IdP by its display name', async () => {
    const options = signInOptions.parse(await (await fetch(`${base()}/api/sign-in-options`)).json());
    expect(options.providers).toEqual([{ id: 'edu', name: 'the Test Federation', type: 'saml-federation', startUrl: '/auth/saml-federation/edu/choose' }]);
    const page = await new HttpBrowser().go(`${base()}${options.providers[0].startUrl}`);
    expect(page.text).toContain('<h1>Where are you from?</h1>');
    expect(names(page.text)).toEqual(['School of Design D', 'Technical College C', 'University A', 'University B']);
    expect(page.text).toContain('4 of 4 organisations');
  });

  it('searches the list without script too (the GET form), and says when nothing matches', async () => {
    const found = await new HttpBrowser().go(`${base()}/auth/saml-federation/edu/choose?q=univ`);
    expect(names(found.text)).toEqual(['University A', 'University B']);
    const none = await new HttpBrowser().go(`${base()}/auth/saml-federation/edu/choose?q=zzz`);
    expect(names(none.text)).toEqual([]);
    expect(none.text).toContain('No organisation matches');
  });

  it('signs each university’s "alice" in at her own IdP into an account of her own, and remembers the choice', async () => {
    const a = await signInVia('University A', 'alice', 'alice-a');
    const b = await signInVia('University B', 'alice', 'alice-b');
    const me = async (browser: HttpBrowser) =>
      profile.parse(await (await fetch(`${base()}/api/me`, { headers: { cookie: `parley_session=${browser.cookie(host(), 'parley_session')}` } })).json()).user;
    expect(await me(a)).toEqual({ username: 'alice.uni-a.example', displayName: 'Alice of A', domain: 'localhost' });
    expect(await me(b)).toEqual({ username: 'alice.uni-b.example', displayName: 'Alice of B', domain: 'localhost' });
    // The chooser puts her organisation first next time.
    const again = await a.go(`${base()}/auth/saml-federation/edu/choose`);
    expect(again.text).toMatch(/aria-label="Your organisation last time"><li[^>]*><a[^>]*>University A<\/a>/);
  });

  it('refuses an aggregate that was changed after signing, signed by someone else, or expired — and a member not in it', async () => {
    expect(verifyFederationMetadata(aggregate, operator.cert, 'aggregate').idps).toHaveLength(4);
    const tampered = aggregate.replace('https://idp.college-c.example/sso', 'https://evil.example/sso');
    expect(() => verifyFederationMetadata(tampered, operator.cert, 'aggregate')).toThrow(/signature does not verify/);
    const other = await federationOperator();
    expect(() => verifyFederationMetadata(aggregate, other.cert, 'aggregate')).toThrow(/signature does not verify/);
    const expired = signedAggregate([fakeIdp('https://idp.old.example', 'Old', uniA.certificateBase64)], operator, new Date(Date.now() - 60_000));
    expect(() => verifyFederationMetadata(expired, operator.cert, 'aggregate')).toThrow(/expired/);
    const unsigned = aggregate.replace(/<Signature[\s\S]*<\/Signature>/, '');
    expect(() => verifyFederationMetadata(unsigned, operator.cert, 'aggregate')).toThrow(/exactly one signature/);

    const page = await new HttpBrowser().go(`${base()}/auth/saml-federation/edu/start?idp=${encodeURIComponent('https://not-a-member.example')}`);
    expect(page.status).toBe(404);
    expect(page.text).toContain('not (or no longer) in the federation');
  });

  it('will not start with a federation file whose signature does not verify, and says why', async () => {
    fs.writeFileSync(path.join(dir, 'bad.xml'), aggregate.replace('University B', 'University Bee'));
    fs.writeFileSync(
      path.join(dir, 'bad.json'),
      JSON.stringify({ providers: [{ type: 'saml-federation', id: 'edu', name: 'x', metadataFile: 'bad.xml', metadataSigningCertificate: 'federation-signer.pem' }] }),
    );
    await expect(startTestGateway({ PARLEY_IDENTITY_PROVIDERS: path.join(dir, 'bad.json') })).rejects.toThrow(/federation "edu" metadata .*signature does not verify/);
  });
});
