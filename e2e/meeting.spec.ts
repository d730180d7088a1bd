/**
 * Video meetings in the browser against the real gateway and its embedded mediasoup SFU:
 * issue #4's journey with real media from Chromium's fake camera and microphone.
 */
import { expect, test, type Browser } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { openUser, signIn, type UserPage } from './support/browser.js';
import { expectReceiving, joinFromPreJoin, receiveStats, tile } from './support/meeting.js';

const PASSWORD = 'correct-horse-battery';
let gateway: GatewayProcess;
const opened: UserPage[] = [];

test.beforeAll(async () => {
  // Two workers, and a low per-worker limit, so a three-person meeting already spans both
  // workers (piped routers) with real media.
  gateway = new GatewayProcess({ env: { PARLEY_SFU_WORKERS: '2', PARLEY_SFU_CONSUMERS_PER_WORKER: '4' } });
  gateway.addUser('alice', PASSWORD, 'Alice Liddell');
  gateway.addUser('bob', PASSWORD, 'Bob Builder');
  gateway.addUser('carol', PASSWORD, 'Carol Danvers');
  await gateway.start();
});

test.afterEach(async () => {
  for (const u of opened.splice(0)) await u.context.close();
});

test.afterAll(async () => {
  await gateway.stop();
});

async function open(browser: Browser, name: string, path = '/'): Promise<UserPage> {
  const u = await openUser(browser, gateway.url, name, { viewport: { width: 1280, height: 720 } });
  opened.push(u);
  if (path !== '/') await u.page.goto(path);
  return u;
}

/** alice starts a meeting from the Meetings tab and joins it; returns its path. */
async function aliceStartsMeeting(browser: Browser): Promise<{ alice: UserPage; path: string }> {
  const alice = await open(browser, 'alice');
  await signIn(alice.page, 'alice', PASSWORD);
  await alice.page.getByRole('tab', { name: 'Meetings' }).click();
  await alice.page.getByRole('button', { name: 'New meeting' }).click();
  await expect(alice.page).toHaveURL(/\/meet\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
  await expect(alice.page.getByRole('heading', { name: 'Alice Liddell’s meeting' })).toBeVisible();
  await expect(alice.page.getByLabel('Your camera preview')).toBeVisible();
  await joinFromPreJoin(alice.page);
  return { alice, path: new URL(alice.page.url()).pathname };
}

/** A signed-in user opens the meeting link, signs in on the way, and joins. */
async function joinByLink(browser: Browser, name: string, path: string): Promise<UserPage> {
  const u = await open(browser, name, path);
  await expect(u.page.getByText('Sign in to join the meeting')).toBeVisible();
  await signIn(u.page, name, PASSWORD);
  await joinFromPreJoin(u.page);
  return u;
}

test('three people meet: everyone receives the others’ audio and video, the speaker is highlighted, a screen share reaches all, leaving works', async ({
  browser,
}) => {
  const { alice, path } = await aliceStartsMeeting(browser);
  const bob = await joinByLink(browser, 'bob', path);
  const carol = await joinByLink(browser, 'carol', path);

  await expectReceiving(alice.page, 'alice', ['Bob Builder', 'Carol Danvers']);
  await expectReceiving(bob.page, 'bob', ['Alice Liddell', 'Carol Danvers']);
  await expectReceiving(carol.page, 'carol', ['Alice Liddell', 'Bob Builder']);
  await expect(tile(alice.page, 'Bob Builder')).toBeVisible();
  await expect(tile(alice.page, 'Carol Danvers')).toBeVisible();

  // Active speaker: only carol unmuted → carol; then only bob → bob.
  await alice.page.getByRole('button', { name: 'Mute (M)' }).click();
  await bob.page.keyboard.press('m');
  await expect(tile(alice.page, 'Carol Danvers')).toHaveAttribute('data-speaking', 'true', { timeout: 20_000 });
  await expect(tile(alice.page, 'Bob Builder').locator('[aria-label="muted"]')).toBeVisible();
  await carol.page.getByRole('button', { name: 'Mute (M)' }).click();
  await expect(bob.page.getByRole('button', { name: 'Mute (M)' })).toHaveAttribute('aria-pressed', 'true');
  await bob.page.getByRole('button', { name: 'Mute (M)' }).click();
  await expect(bob.page.getByRole('button', { name: 'Mute (M)' })).toHaveAttribute('aria-pressed', 'false');
  await expect(tile(alice.page, 'Bob Builder')).toHaveAttribute('data-speaking', 'true', { timeout: 20_000 });
  await expect(tile(carol.page, 'Bob Builder')).toHaveAttribute('data-speaking', 'true', { timeout: 20_000 });
  await alice.page.screenshot({ path: 'test-results/meeting-grid.png' });

  // bob shares his screen: the others see it large, with frames decoded.
  await bob.page.getByRole('button', { name: 'Share screen' }).click();
  for (const u of [alice, carol]) {
    await expect(u.page.locator('[data-testid="screen-tile"][data-name="Bob Builder"]')).toBeVisible();
    await expectReceiving(u.page, u.name, ['Bob Builder'], ['screen']);
  }
  await alice.page.screenshot({ path: 'test-results/meeting-screen-share.png' });
  await expect(bob.page.getByRole('button', { name: 'Share screen' })).toHaveAttribute('aria-pressed', 'true');
  await bob.page.getByRole('button', { name: 'Share screen' }).click();
  await expect(alice.page.getByTestId('screen-tile')).toHaveCount(0);

  // Hands and the participant list.
  await carol.page.getByRole('button', { name: 'Raise hand' }).click();
  await alice.page.getByRole('button', { name: 'Participants' }).click();
  await expect(alice.page.getByTestId('participant').first()).toContainText('Carol Danvers');
  await expect(alice.page.getByTestId('participant').first().getByLabel('hand raised')).toBeVisible();

  // carol leaves: she sees it, the others no longer see her.
  await carol.page.getByRole('button', { name: 'Leave the meeting' }).click();
  await expect(carol.page.getByText('You left the meeting')).toBeVisible();
  await expect(tile(alice.page, 'Carol Danvers')).toHaveCount(0);
  await expect(tile(bob.page, 'Carol Danvers')).toHaveCount(0);
  const after = await receiveStats(alice.page);
  expect(Object.keys(after).some((k) => k.startsWith('Carol'))).toBe(false);
});

test('a guest joins with the organiser’s guest link and a typed name; a broken link is refused', async ({ browser }) => {
  const { alice, path } = await aliceStartsMeeting(browser);
  await alice.page.getByRole('button', { name: 'Invite' }).click();
  await alice.page.getByRole('button', { name: 'Create a guest link' }).click();
  const guestUrl = await alice.page.getByTestId('guest-link').inputValue();
  expect(guestUrl).toContain(`${path}?guest=`);
  await alice.page.getByRole('button', { name: 'Done' }).click();

  const guest = await open(browser, 'guest', new URL(guestUrl).pathname + new URL(guestUrl).search);
  await expect(guest.page.getByRole('heading', { name: 'Alice Liddell’s meeting' })).toBeVisible();
  await expect(guest.page.getByRole('button', { name: 'Join now' })).toBeDisabled();
  await joinFromPreJoin(guest.page, { guestName: 'Gus Guest' });
  await expect(tile(alice.page, 'Gus Guest')).toBeVisible();
  await expectReceiving(alice.page, 'alice', ['Gus Guest']);
  await expectReceiving(guest.page, 'guest', ['Alice Liddell']);

  const forger = await open(browser, 'forger', `${path}?guest=${encodeURIComponent('eyJhbGciOiJIUzI1NiJ9.e30.forged')}`);
  await expect(forger.page.getByRole('heading', { name: 'Cannot join this meeting' })).toBeVisible();
  await expect(forger.page.getByText('This guest link is not valid')).toBeVisible();
  // Without any link or account: asked to sign in, nothing else.
  const stranger = await open(browser, 'stranger', path);
  await expect(stranger.page.getByText('Sign in to join the meeting')).toBeVisible();
});

test('when the meeting’s server dies (kill -9) and comes back, clients say they are reconnecting and media returns by itself', async ({
  browser,
}) => {
  const { alice, path } = await aliceStartsMeeting(browser);
  const bob = await joinByLink(browser, 'bob', path);
  await expectReceiving(bob.page, 'bob', ['Alice Liddell']);

  await gateway.stop('SIGKILL');
  await expect(bob.page.getByTestId('reconnecting')).toBeVisible({ timeout: 30_000 });
  await expect(alice.page.getByTestId('reconnecting')).toContainText('Reconnecting');
  await gateway.start();
  await expect(bob.page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 30_000 });
  await expect(alice.page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 30_000 });
  await expectReceiving(bob.page, 'bob', ['Alice Liddell']);
  await expectReceiving(alice.page, 'alice', ['Bob Builder']);
  await expect(tile(alice.page, 'Bob Builder')).toHaveCount(1);
});
