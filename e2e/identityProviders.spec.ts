/**
 * Signing in with the organisation's identity provider, as a new user does it in Chromium: the
 * sign-in page offers a button per provider; the provider's own login form (oidc-provider, a
 * certified OpenID Provider, run by the test on loopback); back in Parley with an account made
 * at once, who calls and chats with a local user. Then a desk phone (baresip) and an XMPP client
 * (xmpp.js) get app passwords from the "Phones & apps" dialog; revoking one there ends that
 * device's registration and session. Sign-out goes through the provider's logout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { reserveOidcProvider, type OidcTestProvider } from '../gateway/test-support/oidcProvider.js';
import { SamlTestIdp } from '../gateway/test-support/samlIdp.js';
import { Baresip, ensurePhoneInterface, hasBaresip } from '../gateway/test-support/softphones.js';
import { connect } from '../gateway/test-support/xmppClient.js';
import { CAPTURE_PEER_CONNECTIONS, expectMediaFlowing, openUser, type UserPage } from './support/browser.js';
import { befriend, openChat, say, startCall } from './support/chat.js';
import { seriousViolations } from './support/axe.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js';

const PASSWORD = 'local-password-1';
// baresip needs an interface other than loopback (the test namespace gets one that leads nowhere).
const phoneInterface = hasBaresip() ? ensurePhoneInterface() : undefined;

test.describe.configure({ mode: 'serial' });

let uniA: OidcTestProvider;
let uniB: SamlTestIdp;
let gateway: GatewayProcess;
let browser: Browser;
let bob: UserPage;
let alice: Page;
let dir: string;

test.beforeAll(async () => {
  test.setTimeout(90_000);
  uniA = await reserveOidcProvider({ 'alice-42': { preferred_username: 'alice', name: 'Alice Liddell', email: 'alice@uni-a.example' } });
  uniB = new SamlTestIdp({ carol: { password: 'carol-at-b', persistentId: 'p-carol', attributes: { eduPersonPrincipalName: 'carol@uni-b.example', displayName: 'Carol Danvers' } } });
  await uniB.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-idp-e2e-'));
  const file = path.join(dir, 'providers.json');
  fs.writeFileSync(path.join(dir, 'uni-b-idp.xml'), uniB.metadata);
  // As the README shows an operator: one entry per provider, secrets from the environment.
  fs.writeFileSync(
    file,
    JSON.stringify({
      providers: [
        { type: 'oidc', id: 'uni-a', name: 'University A', issuer: uniA.issuer, clientId: uniA.clientId, clientSecretEnv: 'UNI_A_SECRET' },
        { type: 'saml', id: 'uni-b', name: 'University B', metadataFile: 'uni-b-idp.xml' },
      ],
    }),
  );
  gateway = new GatewayProcess({ env: { PARLEY_IDENTITY_PROVIDERS: file, UNI_A_SECRET: uniA.clientSecret, PARLEY_SIP_MIN_EXPIRES: '5' } });
  gateway.addUser('bob', PASSWORD, 'Bob Local');
  await gateway.start();
  uniA.start([`${gateway.url}/auth/oidc/uni-a/callback`], [`${gateway.url}/`]);
  // University B's IdP operator registers Parley from its SAML metadata.
  uniB.trust(await (await fetch(`${gateway.url}/auth/saml/metadata`)).text());
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  bob = await openUser(browser, gateway.url, 'bob', { signIn: { password: PASSWORD } });
});

test.afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await uniA?.close();
  await uniB?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the sign-in page offers a button per identity provider, and the password form', async ({}, testInfo) => {
  const context = await browser.newContext({ baseURL: gateway.url });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Sign in with University A' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Sign in with University B' })).toBeVisible();
  await expect(page.getByText('or with a Parley password')).toBeVisible();
  await expect(page.getByLabel('Username')).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath('sign-in-two-providers.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: testInfo.outputPath('sign-in-two-providers-phone.png') });
  await context.close();
});

test('a new user signs in at their university’s own login form, lands in Parley with an account made at once, and chats with and calls a local user', async () => {
  const context = await browser.newContext({ baseURL: gateway.url, permissions: ['camera', 'microphone'] });
  await context.addInitScript(CAPTURE_PEER_CONNECTIONS);
  alice = await context.newPage();
  await alice.goto('/');
  await alice.getByRole('link', { name: 'Sign in with University A' }).click();
  // The provider's page, not Parley's.
  await expect(alice).toHaveURL(new RegExp(`^${uniA.issuer}/`));
  await alice.getByPlaceholder('Enter any login').fill('alice-42');
  await alice.getByPlaceholder('and password').fill('her university password');
  await alice.getByRole('button', { name: 'Sign-in' }).click();
  await expect(alice).toHaveURL(new RegExp(`^${gateway.url}/`));
  await expect(alice.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
  await expect(alice.locator('.me')).toHaveText('Alice Liddell');
  await expect(alice.locator('.me')).toHaveAttribute('title', 'alice.uni-a@localhost');

  await befriend(bob.page, alice, 'alice.uni-a', 'bob');
  await openChat(alice, 'bob');
  await say(alice, 'Hello from University A');
  await openChat(bob.page, 'alice.uni-a');
  await expect(bob.page.getByTestId('chat-pane')).toContainText('Hello from University A');

  await startCall(alice, 'bob');
  await bob.page.getByTestId('incoming-call').getByRole('button', { name: 'Accept' }).click({ timeout: 20_000 });
  await expectMediaFlowing(alice, 'alice');
  await expectMediaFlowing(bob.page, 'bob');
  await alice.getByRole('button', { name: 'Hang up' }).click();
  await expect(alice.getByTestId('call-screen')).toHaveCount(0);
});

test('she makes app passwords in “Phones & apps” for a desk phone and an XMPP client; revoking them there ends their registration and session', async ({}, testInfo) => {
  test.skip(!phoneInterface, 'needs baresip-core and a non-loopback interface');
  await alice.getByTestId('open-devices').click();
  const dialog = alice.getByRole('dialog', { name: 'Use a phone or an XMPP client' });
  await expect(dialog.getByTestId('client-settings')).toContainText('alice.uni-a');
  await expect(dialog.getByTestId('client-settings')).toContainText(`UDP ${gateway.sipPort}`);

  await dialog.getByLabel('Device name').fill('Desk phone');
  await dialog.getByLabel('Chat (XMPP)').uncheck();
  await dialog.getByRole('button', { name: 'Make app password' }).click();
  const phonePassword = (await dialog.getByTestId('app-password').textContent())!;
  expect(phonePassword).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  await expect(dialog.getByRole('img', { name: /QR code/ })).toBeVisible();
  expect(await seriousViolations(alice, '[role=dialog]')).toEqual([]);
  await dialog.screenshot({ path: testInfo.outputPath('phones-and-apps.png') });

  await dialog.getByLabel('Device name').fill('Gajim on my laptop');
  await dialog.getByLabel('Chat (XMPP)').check();
  await dialog.getByLabel('Calls (SIP)').uncheck();
  await dialog.getByRole('button', { name: 'Make app password' }).click();
  await expect(dialog.getByTestId('new-app-password')).toContainText('Gajim on my laptop');
  const chatPassword = (await dialog.getByTestId('app-password').textContent())!;

  const phone = new Baresip({ user: 'alice.uni-a', password: phonePassword, sipPort: gateway.sipPort, mediaInterface: phoneInterface, registerSeconds: 5 });
  await phone.start();
  try {
    expect((await phone.registration())[0]).toMatch(/200 OK/);
    const gajim = await connect(gateway, 'alice.uni-a', chatPassword);
    const ended = new Promise<string>((resolve) => gajim.xmpp.on('error', (err: Error & { condition?: string }) => err.condition && resolve(err.condition)));
    // Listed with their last use (the desk phone's REGISTER).
    await dialog.getByRole('button', { name: 'Done' }).click();
    await alice.getByTestId('open-devices').click();
    await expect(dialog.getByTestId('app-passwords')).toContainText(/Desk phone.*last used/s);

    alice.on('dialog', (d) => void d.accept());
    await dialog.getByRole('button', { name: 'Revoke Gajim on my laptop' }).click();
    expect(await ended).toBe('policy-violation');
    await gajim.stop();
    const before = phone.output.length;
    await dialog.getByRole('button', { name: 'Revoke Desk phone' }).click();
    await expect(dialog.getByTestId('app-passwords')).toHaveCount(0);
    // The phone's next REGISTER (every 5 s here) is refused.
    const [refused] = await phone.waitFor(/403|Forbidden|failed/, 15_000, before);
    expect(refused).toMatch(/403|Forbidden/);
  } finally {
    await phone.stop();
  }
  await dialog.getByRole('button', { name: 'Done' }).click();
});

test('a new user signs in through a SAML IdP’s login form (University B) and lands in Parley; signing out goes to its single logout', async ({}, testInfo) => {
  const context = await browser.newContext({ baseURL: gateway.url, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByRole('link', { name: 'Sign in with University B' }).click();
  await expect(page).toHaveURL(new RegExp(`^${uniB.base}/sso`));
  await page.getByLabel('User name').fill('carol');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong user name or password.');
  await page.getByLabel('User name').fill('carol');
  await page.getByLabel('Password').fill('carol-at-b');
  await page.getByRole('button', { name: 'Log in' }).click();
  // The IdP's page posts the signed response to Parley's ACS by itself.
  await expect(page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
  await expect(page.locator('.me')).toHaveText('Carol Danvers');
  await expect(page.locator('.me')).toHaveAttribute('title', 'carol.uni-b@localhost');
  await page.screenshot({ path: testInfo.outputPath('signed-in-through-saml.png') });

  const before = uniB.logouts;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(new RegExp(`^${uniB.base}/slo\\?SAMLRequest=`));
  expect(uniB.logouts).toBe(before + 1);
  expect((await page.request.get(`${gateway.url}/api/me`)).status()).toBe(401);
  await context.close();
});

test('a cancelled sign-in at the IdP ends on Parley’s page that says so, with the way back', async () => {
  const context = await browser.newContext({ baseURL: gateway.url });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByRole('link', { name: 'Sign in with University B' }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('heading', { name: 'Sign-in did not work' })).toBeVisible();
  await expect(page.locator('#reason')).toContainText('did not complete (it was cancelled or refused)');
  await page.getByRole('link', { name: 'Back to sign-in' }).click();
  await expect(page.getByRole('link', { name: 'Sign in with University A' })).toBeVisible();
  await context.close();
});

test('signing out goes through the university’s logout and back to the sign-in page', async () => {
  const before = uniA.logouts;
  await alice.getByRole('button', { name: 'Sign out' }).click();
  await expect(alice).toHaveURL(new RegExp(`^${uniA.issuer}/session/end`));
  expect(uniA.logouts).toBeGreaterThan(before);
  // oidc-provider asks whether to sign out there too.
  await alice.getByRole('button', { name: /Yes, sign me out/i }).click();
  await expect(alice).toHaveURL(new RegExp(`^${gateway.url}/`));
  await expect(alice.getByRole('link', { name: 'Sign in with University A' })).toBeVisible();
  expect((await alice.request.get(`${gateway.url}/api/me`)).status()).toBe(401);
});
