/**
 * Widgets on another site: a host page served from a second origin (another loopback port)
 * loads widget.js from the gateway and embeds a meeting, a click-to-call button and a chat
 * box. A third origin, not on PARLEY_EMBED_ORIGINS, cannot frame Parley at all.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, test, type Browser, type Frame, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { freeTcpPort } from '../server-common/test-support/ports.js';
import { CAPTURE_PEER_CONNECTIONS, inboundMedia, openUser, signIn, type UserPage } from './support/browser.js';
import { command, events, HostSite } from './support/hostSite.js';
import { expectReceiving, joinFromPreJoin } from './support/meeting.js';

const PASSWORD = 'correct-horse-battery';
const ROOM = 'physics-101';
test.describe.configure({ mode: 'serial' });

let gateway: GatewayProcess;
let allowedHost: HostSite;
let strangerHost: HostSite;
let embedKey: string;
const opened: UserPage[] = [];

const names = async (page: Page) => (await events(page)).map((e) => e.name);

async function visitHost(browser: Browser, site: HostSite, label: string, options: Record<string, unknown>): Promise<UserPage> {
  const context = await browser.newContext({ viewport: { width: 800, height: 620 }, permissions: ['camera', 'microphone'] });
  await context.addInitScript(CAPTURE_PEER_CONNECTIONS);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${label}] page error:`, err.message));
  await page.goto(`${site.origin}/#${encodeURIComponent(JSON.stringify(options))}`);
  const u = { name: label, context, page };
  opened.push(u);
  return u;
}

/** The Parley frame inside a host page, once it has loaded. */
async function widgetFrame(page: Page, type: string): Promise<Frame> {
  await expect.poll(() => page.frames().some((f) => f.url().includes(`/embed/${type}`)), { timeout: 15_000 }).toBe(true);
  return page.frames().find((f) => f.url().includes(`/embed/${type}`))!;
}

test.beforeAll(async () => {
  const [allowedPort, strangerPort] = [await freeTcpPort(), await freeTcpPort()];
  gateway = new GatewayProcess({ env: { PARLEY_EMBED_ORIGINS: `http://localhost:${allowedPort}` } });
  gateway.addUser('alice', PASSWORD);
  gateway.addUser('bob', PASSWORD);
  await gateway.start();
  allowedHost = new HostSite(allowedPort, gateway.url);
  strangerHost = new HostSite(strangerPort, gateway.url);
  await Promise.all([allowedHost.listen(), strangerHost.listen()]);
  // The operator issues the department's key, as the README says.
  const made = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../bin/parley.js'), 'embed-key', '--origin', allowedHost.origin, '--room', 'physics-*'], {
    env: { ...process.env, PARLEY_DATA: gateway.dataDir, PARLEY_EMBED_ORIGINS: allowedHost.origin },
    encoding: 'utf8',
  });
  expect(made.status, made.stderr).toBe(0);
  embedKey = made.stdout.trim();
});

test.afterEach(async () => {
  for (const u of opened.splice(0)) await u.context.close();
});

test.afterAll(async () => {
  await gateway?.stop();
  await allowedHost?.close();
  await strangerHost?.close();
});

test('two embedded guests and a signed-in user meet; commands change state and events reach the host page in order', async ({ browser }) => {
  const meeting = (displayName: string) => ({ type: 'meeting', room: ROOM, displayName, embedKey, prejoin: false });
  const one = await visitHost(browser, allowedHost, 'guest one', meeting('Guest One'));
  await expect.poll(() => names(one.page), { timeout: 30_000 }).toContain('joined');
  const two = await visitHost(browser, allowedHost, 'guest two', meeting('Guest Two'));
  await expect.poll(() => names(two.page), { timeout: 30_000 }).toContain('joined');

  const alice = await openUser(browser, gateway.url, 'alice', { viewport: { width: 1100, height: 700 } });
  opened.push(alice);
  await alice.page.goto(`/meet/${ROOM}`);
  await signIn(alice.page, 'alice', PASSWORD);
  await joinFromPreJoin(alice.page);

  const frameOne = await widgetFrame(one.page, 'meeting');
  const frameTwo = await widgetFrame(two.page, 'meeting');
  await expectReceiving(alice.page, 'alice', ['Guest One', 'Guest Two']);
  await expectReceiving(frameOne, 'guest one', ['alice', 'Guest Two']);
  await expectReceiving(frameTwo, 'guest two', ['alice', 'Guest One']);
  await one.page.screenshot({ path: test.info().outputPath('host-page-meeting.png') });

  // Events reached guest one's page in the order things happened; `ready` says nobody is signed in there.
  expect((await events(one.page))[0]).toEqual({ name: 'ready', data: { type: 'meeting', signedIn: false } });
  const joinedOrder = (await events(one.page))
    .filter((e) => ['ready', 'joined', 'participantJoined'].includes(e.name))
    .map((e) => (e.name === 'participantJoined' ? `+${String(e.data.displayName)}` : e.name));
  expect(joinedOrder).toEqual(['ready', 'joined', '+Guest Two', '+alice']);

  // The host page mutes guest one: alice sees the microphone paused; the host hears about it.
  await command(one.page, 'toggleAudio');
  // (The host heard "unmuted" when guest one joined with the microphone on; now "muted".)
  await expect.poll(() => events(one.page).then((list) => list.filter((e) => e.name === 'audioMuted').map((e) => e.data.muted))).toEqual([false, true]);
  await expect
    .poll(() =>
      alice.page.evaluate(() => {
        type P = { displayName: string; streams: { mic?: { paused: boolean } } };
        const client = (window as unknown as { parleyMeeting: { state: { participants: P[] } } }).parleyMeeting;
        return client.state.participants.find((p) => p.displayName === 'Guest One')?.streams.mic?.paused;
      }),
    )
    .toBe(true);

  // The host page of guest two makes it leave: both host pages hear it.
  await command(two.page, 'leave');
  await expect.poll(() => names(two.page)).toContain('left');
  await expect
    .poll(() => events(one.page).then((list) => list.filter((e) => e.name === 'participantLeft').map((e) => e.data.displayName)))
    .toEqual(['Guest Two']);
});

test('with the pre-join screen, the host page’s join command joins', async ({ browser }) => {
  const site = await visitHost(browser, allowedHost, 'prejoin', { type: 'meeting', room: ROOM, displayName: 'Guest Three', embedKey });
  const frame = await widgetFrame(site.page, 'meeting');
  await expect(frame.getByRole('button', { name: 'Join now' })).toBeVisible({ timeout: 20_000 });
  expect(await names(site.page)).not.toContain('joined');
  await command(site.page, 'join');
  await expect.poll(() => names(site.page), { timeout: 30_000 }).toContain('joined');
  await expect(frame.getByRole('button', { name: 'Leave the meeting' })).toBeVisible();
});

test('a forged embed key is refused, and a site not on the allowlist cannot frame Parley', async ({ browser }) => {
  const forged = await visitHost(browser, allowedHost, 'forger', { type: 'meeting', room: ROOM, displayName: 'Mallory', embedKey: `${embedKey.slice(0, -6)}AAAAAA`, prejoin: false });
  await expect.poll(() => events(forged.page), { timeout: 20_000 }).toContainEqual({ name: 'error', data: { code: 'cannot_join', message: expect.stringMatching(/not valid/) } });
  expect(await names(forged.page)).not.toContain('joined');

  const stranger = await visitHost(browser, strangerHost, 'stranger', { type: 'meeting', room: ROOM, displayName: 'Eve', embedKey, prejoin: false });
  // The browser blocks the frame (CSP frame-ancestors): no Parley page loads in it, and widget.js
  // tells the host page why nothing shows.
  await expect
    .poll(() => events(stranger.page), { timeout: 20_000 })
    .toEqual([{ name: 'error', data: { code: 'not_loaded', message: expect.stringMatching(/PARLEY_EMBED_ORIGINS/) } }]);
  const frame = stranger.page.frames().find((f) => f !== stranger.page.mainFrame());
  expect(frame?.url() ?? '').not.toContain('/embed/meeting');
  await stranger.page.screenshot({ path: test.info().outputPath('stranger-blocked.png') });
});

test('the click-to-call widget calls a signed-in user who answers; the host page hangs up', async ({ browser }) => {
  const bob = await openUser(browser, gateway.url, 'bob', { signIn: { password: PASSWORD } });
  opened.push(bob);
  const site = await visitHost(browser, allowedHost, 'caller', { type: 'call', to: 'bob' });
  const frame = await widgetFrame(site.page, 'call');
  await expect.poll(() => events(site.page)).toContainEqual({ name: 'ready', data: { type: 'call', signedIn: false } });
  // Parley users sign in inside the widget (the cookie is Parley's own).
  await frame.getByLabel('Username').fill('alice');
  await frame.getByLabel('Password').fill(PASSWORD);
  await frame.getByRole('button', { name: 'Sign in' }).click();
  await expect(frame.getByRole('button', { name: 'Video call bob' })).toBeEnabled({ timeout: 20_000 });

  await command(site.page, 'join');
  await bob.page.getByTestId('incoming-call').waitFor();
  await bob.page.getByRole('button', { name: 'Accept' }).click();
  await expect.poll(() => events(site.page).then((l) => l.filter((e) => e.name === 'callState').map((e) => e.data.state))).toContain('active');
  await expect.poll(async () => (await inboundMedia(frame)).framesDecoded, { timeout: 20_000 }).toBeGreaterThan(10);
  await site.page.screenshot({ path: test.info().outputPath('host-page-call.png') });

  await command(site.page, 'hangup');
  await expect.poll(() => events(site.page).then((l) => l.filter((e) => e.name === 'callState').map((e) => e.data.state))).toContain('ended');
  await expect(bob.page.getByTestId('incoming-call')).toHaveCount(0);
  await expect(bob.page.locator('[data-phase=active]')).toHaveCount(0);
});

test('the chat widget exchanges messages with a signed-in user', async ({ browser }) => {
  const bob = await openUser(browser, gateway.url, 'bob', { signIn: { password: PASSWORD } });
  opened.push(bob);
  // alice and bob become contacts in the full app first (messages from strangers are refused by default).
  const aliceApp = await openUser(browser, gateway.url, 'alice', { signIn: { password: PASSWORD } });
  await aliceApp.page.getByPlaceholder('Add a contact…').fill('bob');
  await aliceApp.page.getByRole('button', { name: 'Add', exact: true }).click();
  await bob.page.getByTestId('contact-request').getByRole('button', { name: 'Accept' }).click();
  await expect(aliceApp.page.locator('[data-contact="bob"]')).toBeVisible();
  await aliceApp.context.close();
  const site = await visitHost(browser, allowedHost, 'chatter', { type: 'chat', with: 'bob' });
  const frame = await widgetFrame(site.page, 'chat');
  await frame.getByLabel('Username').fill('alice');
  await frame.getByLabel('Password').fill(PASSWORD);
  await frame.getByRole('button', { name: 'Sign in' }).click();
  await expect(frame.getByTestId('chat-pane')).toBeVisible({ timeout: 20_000 });

  await frame.getByRole('textbox', { name: 'Message', exact: true }).fill('typed in the widget');
  await frame.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
  await command(site.page, 'sendMessage', { text: 'sent by the host page' });
  await bob.page.locator('[data-contact="alice"]').click();
  await expect(bob.page.getByText('sent by the host page')).toBeVisible({ timeout: 20_000 });
  await expect(bob.page.getByText('typed in the widget')).toBeVisible();

  const box = bob.page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill('hello back from bob');
  await box.press('Enter');
  await expect.poll(() => events(site.page).then((l) => l.filter((e) => e.name === 'messageReceived').map((e) => e.data.text))).toEqual(['hello back from bob']);
  await expect(frame.getByText('hello back from bob')).toBeVisible();
  await site.page.screenshot({ path: test.info().outputPath('host-page-chat.png') });
});
