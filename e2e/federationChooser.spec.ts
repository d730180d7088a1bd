/**
 * An installation that signs in only through an academic federation (PARLEY_LOCAL_LOGIN=false):
 * the sign-in page has one button and no password form; the "where are you from" chooser narrows
 * as one types; the chosen university's IdP (samlify, its own login form) signs the person in.
 * axe-core finds nothing serious on these pages, on a desktop and a phone-sized screen.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { fakeIdp, federationOperator, signedAggregate, withDisplayName } from '../gateway/test-support/federationMetadata.js';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { SamlTestIdp } from '../gateway/test-support/samlIdp.js';
import { seriousViolations } from './support/axe.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js';

test.describe.configure({ mode: 'serial' });

let uniA: SamlTestIdp;
let gateway: GatewayProcess;
let browser: Browser;
let dir: string;

test.beforeAll(async () => {
  test.setTimeout(60_000);
  uniA = new SamlTestIdp({ erin: { password: 'erin-at-a', attributes: { eduPersonPrincipalName: 'erin@uni-a.example', displayName: 'Erin Example' } } });
  await uniA.start();
  const operator = await federationOperator();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-fed-e2e-'));
  fs.writeFileSync(
    path.join(dir, 'federation.xml'),
    signedAggregate(
      [
        withDisplayName(uniA.metadata, 'University A'),
        fakeIdp('https://idp.uni-b.example', 'University B', uniA.certificateBase64),
        fakeIdp('https://idp.college-c.example', 'Technical College C', uniA.certificateBase64),
      ],
      operator,
    ),
  );
  fs.writeFileSync(path.join(dir, 'signer.pem'), operator.cert);
  fs.writeFileSync(
    path.join(dir, 'providers.json'),
    JSON.stringify({ providers: [{ type: 'saml-federation', id: 'edu', name: 'the Test Federation', metadataFile: 'federation.xml', metadataSigningCertificate: 'signer.pem' }] }),
  );
  gateway = new GatewayProcess({ env: { PARLEY_IDENTITY_PROVIDERS: path.join(dir, 'providers.json'), PARLEY_LOCAL_LOGIN: 'false' } });
  await gateway.start();
  uniA.trust(await (await fetch(`${gateway.url}/auth/saml/metadata`)).text());
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
});

test.afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await uniA?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('with local passwords turned off, the sign-in page offers only the federation, and the API refuses passwords', async () => {
  const page = await (await browser.newContext({ baseURL: gateway.url })).newPage();
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Sign in through the Test Federation' })).toBeVisible();
  await expect(page.getByLabel('Username')).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);
  const login = await page.request.post(`${gateway.url}/api/login`, { data: { username: 'x', password: 'y' } });
  expect(login.status()).toBe(403);
  expect((await login.json()).error.code).toBe('local_login_off');
  await page.context().close();
});

test('the chooser narrows as one types; the chosen university signs the person in', async () => {
  for (const viewport of [{ width: 1100, height: 750 }, { width: 390, height: 844 }]) {
    const context = await browser.newContext({ baseURL: gateway.url, viewport, permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    await page.goto('/');
    await page.getByRole('link', { name: 'Sign in through the Test Federation' }).click();
    await expect(page.getByRole('heading', { name: 'Where are you from?' })).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
    const list = page.getByRole('list', { name: 'Organisations' });
    await expect(list.getByRole('link')).toHaveCount(3);
    await page.getByLabel('Search for your organisation').pressSequentially('univ');
    await expect(list.getByRole('link', { name: /University/ })).toHaveCount(2);
    await expect(list.getByRole('link', { name: 'Technical College C' })).toBeHidden();
    await expect(page.getByText('2 of 3 organisations')).toBeVisible();
    await list.getByRole('link', { name: 'University A' }).click();
    await page.getByLabel('User name').fill('erin');
    await page.getByLabel('Password').fill('erin-at-a');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
    await expect(page.locator('.me')).toHaveAttribute('title', 'erin.uni-a.example@localhost');
    await context.close();
  }
});

test('a failed sign-in ends on a page that says what to do, and that page passes axe too', async () => {
  const page = await (await browser.newContext({ baseURL: gateway.url })).newPage();
  await page.goto(`/auth/saml-federation/edu/start?idp=${encodeURIComponent('https://gone.example')}`);
  await expect(page.getByRole('heading', { name: 'Sign-in did not work' })).toBeVisible();
  await expect(page.getByText('not (or no longer) in the federation')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Back to sign-in' })).toBeFocused();
  expect(await seriousViolations(page)).toEqual([]);
  await page.context().close();
});
