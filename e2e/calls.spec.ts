/**
 * Browser-to-browser calls through the real gateway, in headless Chromium with fake devices:
 * the journey of issue #2, checked with getStats() on both sides.
 */
import { expect, test } from '@playwright/test';
import { expectMediaFlowing, expectMediaStopped, openUser, signIn, type UserPage } from './support/browser.js';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { startCall } from './support/chat.js';

const PASSWORD = 'correct-horse-battery';
let gateway: GatewayProcess;
const opened: UserPage[] = [];

test.beforeAll(async () => {
  gateway = new GatewayProcess();
  gateway.addUser('alice', PASSWORD, 'Alice Liddell');
  gateway.addUser('bob', PASSWORD, 'Bob Builder');
  gateway.addUser('carol', PASSWORD);
  gateway.addUser('dave', PASSWORD);
  await gateway.start();
});

test.afterAll(async () => {
  await gateway.stop();
});

test.afterEach(async () => {
  for (const u of opened.splice(0)) await u.context.close();
});

async function user(browser: import('@playwright/test').Browser, name: string, viewport?: { width: number; height: number }) {
  const u = await openUser(browser, gateway.url, name, { signIn: { password: PASSWORD }, viewport });
  opened.push(u);
  return u;
}

const PHONE = { width: 390, height: 844 };

test('alice calls bob with audio and video; mute, camera, hold, keypad and hang-up work on both sides', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob', PHONE); // bob is on a phone-sized screen

  await startCall(alice.page, 'bob');
  await expect(alice.page.getByTestId('call-status')).toHaveText(/Calling|Ringing/);
  // The call screen is modal: focus moves into it and Tab does not reach the page behind.
  const aliceScreen = alice.page.getByTestId('call-screen');
  await expect.poll(() => aliceScreen.evaluate((el) => el.contains(document.activeElement))).toBe(true);

  // bob's screen rings with the caller's name and accept/decline.
  const incoming = bob.page.getByTestId('incoming-call');
  await expect(incoming).toBeVisible();
  await expect(incoming).toContainText('Alice Liddell');
  await expect(incoming).toContainText('Incoming video call');
  await expect(alice.page.getByTestId('call-status')).toHaveText('Ringing…');
  await incoming.getByRole('button', { name: 'Accept' }).click();

  await expect(alice.page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expect(bob.page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expectMediaFlowing(alice.page, 'alice');
  await expectMediaFlowing(bob.page, 'bob');

  // On a phone-sized screen every control is on screen.
  for (const name of ['Mute', 'Camera off', 'Hold', 'Keypad', 'Hang up']) {
    await expect(bob.page.getByRole('button', { name, exact: true })).toBeInViewport();
  }

  for (let i = 0; i < 8; i++) await alice.page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
  expect(await aliceScreen.evaluate((el) => el.contains(document.activeElement))).toBe(true);

  // Mute and camera toggle and show their state.
  // Toggles keep their name and say their state (aria-pressed): not pressed while the mic is on.
  const mute = alice.page.getByRole('button', { name: 'Mute', exact: true });
  await expect(mute).toHaveAttribute('aria-pressed', 'false');
  await mute.click();
  await expect(mute).toHaveAttribute('aria-pressed', 'true');
  await mute.click();
  await expect(mute).toHaveAttribute('aria-pressed', 'false');
  const camera = alice.page.getByRole('button', { name: 'Camera off', exact: true });
  await camera.click();
  await expect(camera).toHaveAttribute('aria-pressed', 'true');
  await camera.click();

  // Hold stops media both ways and bob sees it; resume brings it back.
  await alice.page.getByRole('button', { name: 'Hold', exact: true }).click();
  await expect(bob.page.getByTestId('remote-hold')).toHaveText('Alice Liddell put you on hold');
  await expect(alice.page.getByTestId('call-status')).toHaveText(/On hold/);
  await expectMediaStopped(bob.page, 'bob while alice holds');
  await expectMediaStopped(alice.page, 'alice while holding');
  await alice.page.getByRole('button', { name: 'Resume' }).click();
  await expect(bob.page.getByTestId('remote-hold')).toHaveCount(0);
  await expectMediaFlowing(alice.page, 'alice after resume');
  await expectMediaFlowing(bob.page, 'bob after resume');

  // DTMF from the keypad reaches the other side (SIP INFO through the proxy).
  await alice.page.getByRole('button', { name: 'Keypad' }).click();
  await alice.page.getByRole('button', { name: 'Key 5' }).click();
  await expect(bob.page.getByTestId('dtmf')).toHaveText('Alice Liddell pressed 5');

  await alice.page.screenshot({ path: 'test-results/call-alice.png' });
  await bob.page.screenshot({ path: 'test-results/call-bob.png' });

  // bob hangs up: both sides end.
  await bob.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(alice.page.getByTestId('call-toast')).toHaveText(/Bob Builder ended the call|bob ended the call/);
  await expect(bob.page.getByTestId('call-toast')).toHaveText('You ended the call');
  await expect(alice.page.getByTestId('call-screen')).toHaveCount(0);
  await expect.poll(async () => (await alice.page.evaluate(() => (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.every((pc) => pc.connectionState === 'closed')))).toBe(true);

  // The call log shows it on both sides, with a duration.
  await bob.page.getByRole('tab', { name: 'Calls' }).click();
  await expect(alice.page.getByTestId('call-log').locator('li').first()).toContainText(/Bob Builder.*Outgoing call · video · \d+ s/s);
  await expect(bob.page.getByTestId('call-log').locator('li').first()).toContainText(/Alice Liddell.*Incoming call · video/s);
});

test('calling someone who is offline says they are not reachable', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  await startCall(alice.page, 'carol', 'Audio call');
  await expect(alice.page.getByTestId('call-toast')).toHaveText('carol is not reachable right now');
  // …and carol finds the missed call when she signs in.
  const carol = await user(browser, 'carol');
  await carol.page.getByRole('tab', { name: 'Calls' }).click();
  await expect(carol.page.getByTestId('call-log').locator('li').first()).toContainText(/Alice Liddell.*Missed call/s);
});

test('declining an incoming call tells the caller (by display name) and is logged as declined, not missed; calling again clears the last message', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  await startCall(alice.page, 'bob');
  // The caller sees whom they call by name, not by user name.
  await expect(alice.page.getByTestId('call-screen').getByRole('heading', { name: 'Bob Builder' })).toBeVisible();
  await bob.page.getByTestId('incoming-call').getByRole('button', { name: 'Decline' }).click();
  await expect(alice.page.getByTestId('call-toast')).toHaveText('Bob Builder declined');
  await expect(bob.page.getByTestId('incoming-call')).toHaveCount(0);
  // Calling again at once: the last call's message goes, it would cover the new call's buttons.
  await startCall(alice.page, 'bob');
  await expect(alice.page.getByTestId('call-toast')).toHaveCount(0);
  await expect(bob.page.getByTestId('incoming-call')).toBeVisible();
  await alice.page.getByRole('button', { name: 'Cancel' }).click();
  await expect(bob.page.getByTestId('incoming-call')).toHaveCount(0);
  // bob's log says he declined the first call — not a missed call (the second one he missed).
  await bob.page.getByRole('tab', { name: 'Calls' }).click();
  await expect(bob.page.getByTestId('call-entry').first()).toContainText(/Alice Liddell.*Missed call/s);
  const bobsLast = bob.page.getByTestId('call-entry').nth(1);
  await expect(bobsLast).toContainText(/Alice Liddell.*Incoming · declined/s);
  await expect(bobsLast).not.toContainText('Missed');
  await expect(bobsLast.getByRole('button', { name: 'Call Alice Liddell back' })).toBeVisible();
  await expect(alice.page.getByTestId('call-entry').nth(1)).toContainText(/Bob Builder.*Outgoing · declined/s);
});

test('the caller can hang up while it rings: the callee stops ringing and sees a missed call', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  await startCall(alice.page, 'bob');
  await expect(bob.page.getByTestId('incoming-call')).toBeVisible();
  await alice.page.getByRole('button', { name: 'Cancel' }).click();
  await expect(bob.page.getByTestId('incoming-call')).toHaveCount(0);
  await expect(bob.page.getByTestId('call-toast')).toHaveText('Missed call from Alice Liddell');
});

test('the settings dialog takes focus, keeps Tab inside, and Escape gives focus back to its button', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const open = alice.page.getByRole('button', { name: /^Settings/ });
  await open.click();
  const dialog = alice.page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect.poll(() => dialog.evaluate((el) => el.contains(document.activeElement))).toBe(true);
  for (let i = 0; i < 12; i++) await alice.page.keyboard.press('Tab');
  expect(await dialog.evaluate((el) => el.contains(document.activeElement))).toBe(true);
  await alice.page.keyboard.press('Shift+Tab');
  expect(await dialog.evaluate((el) => el.contains(document.activeElement))).toBe(true);
  await alice.page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(open).toBeFocused();
});

test('a wrong password at sign-in says so', async ({ browser }) => {
  const visitor = await openUser(browser, gateway.url, 'alice');
  opened.push(visitor);
  await signIn(visitor.page, 'alice', 'not-the-password');
  await expect(visitor.page.getByTestId('login-error')).toHaveText('Wrong username or password');
  await expect(visitor.page.getByRole('button', { name: 'Sign in' })).toBeEnabled();
});

test('bob signed in on two devices: both ring, one answers, the other stops ringing', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bobDesk = await user(browser, 'bob');
  const bobPhone = await user(browser, 'bob', PHONE);
  await startCall(alice.page, 'bob');
  await expect(bobDesk.page.getByTestId('incoming-call')).toBeVisible();
  await expect(bobPhone.page.getByTestId('incoming-call')).toBeVisible();
  await bobPhone.page.getByRole('button', { name: 'Accept' }).click();
  await expect(bobDesk.page.getByTestId('incoming-call')).toHaveCount(0);
  await expect(bobPhone.page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expectMediaFlowing(alice.page, 'alice');
  await expectMediaFlowing(bobPhone.page, "bob's phone");
  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(bobPhone.page.getByTestId('call-toast')).toHaveText(/ended the call/);
});

test('after the server restarts, the client reconnects and registers again by itself', async ({ browser }) => {
  const dave = await user(browser, 'dave');
  await gateway.stop();
  await expect(dave.page.getByTestId('registration')).toHaveText(/Reconnecting|Connecting/);
  await gateway.start();
  await expect(dave.page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 30_000 });
  // And it can be called again.
  const alice = await user(browser, 'alice');
  await startCall(alice.page, 'dave', 'Audio call');
  await expect(dave.page.getByTestId('incoming-call')).toBeVisible();
  await dave.page.getByRole('button', { name: 'Decline' }).click();
});

test('each view has its own address and title, Back returns to the last one, a bookmark opens it, and the arrow keys move along the tabs', async ({ browser }) => {
  const { page } = await user(browser, 'carol');
  await expect(page).toHaveTitle('Chats · Parley');
  await page.getByRole('tab', { name: 'Calls' }).click();
  await expect(page).toHaveURL(/\/calls$/);
  await expect(page).toHaveTitle('Calls · Parley');
  await expect(page.getByRole('tabpanel', { name: 'Calls' })).toBeVisible();
  // The ARIA tabs pattern: one tab in the Tab order, arrows move (and open), Home/End go to the ends.
  await expect(page.getByRole('tab', { name: 'Meetings' })).toHaveAttribute('tabindex', '-1');
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Meetings' })).toBeFocused();
  await expect(page).toHaveURL(/\/meetings$/);
  await page.keyboard.press('ArrowRight'); // wraps round
  await expect(page.getByRole('tab', { name: /^Chats/ })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('End');
  await expect(page.getByRole('tab', { name: 'Meetings' })).toBeFocused();
  await page.goBack();
  await expect(page).toHaveURL(/\/chats$/);
  await expect(page.getByRole('tab', { name: /^Chats/ })).toHaveAttribute('aria-selected', 'true');
  await page.goto('/meetings'); // as from a bookmark
  await expect(page.getByRole('tab', { name: 'Meetings' })).toHaveAttribute('aria-selected', 'true');
  await expect(page).toHaveTitle('Meetings · Parley');
});
