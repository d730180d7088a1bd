/**
 * Chat and presence in the browser (strophe.js over WebSocket, and over BOSH for carol),
 * against the real gateway: issue #3's journey.
 */
import { expect, test, type BrowserContext, type WebSocketRoute } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { openUser, type UserPage } from './support/browser.js';
import { befriend, contact, openChat, say } from './support/chat.js';

const PASSWORD = 'correct-horse-battery';
// The tests build on each other (contacts made in the first are used later).
test.describe.configure({ mode: 'serial' });
let gateway: GatewayProcess;
const opened: UserPage[] = [];

test.beforeAll(async () => {
  gateway = new GatewayProcess();
  gateway.addUser('alice', PASSWORD, 'Alice Liddell');
  gateway.addUser('bob', PASSWORD, 'Bob Builder');
  gateway.addUser('carol', PASSWORD, 'Carol Danvers');
  gateway.addUser('dave', PASSWORD, 'Dave Grohl');
  gateway.addUser('erin', PASSWORD, 'Erin Hannon');
  await gateway.start();
});

test.afterEach(async () => {
  for (const u of opened.splice(0)) await u.context.close();
});

test.afterAll(async () => {
  await gateway.stop();
});

async function user(
  browser: import('@playwright/test').Browser,
  name: string,
  options: { bosh?: boolean; viewport?: { width: number; height: number }; prepare?: (context: BrowserContext) => Promise<void> } = {},
) {
  const u = await openUser(browser, gateway.url + (options.bosh ? '/?xmpp=bosh' : ''), name, { signIn: { password: PASSWORD }, viewport: options.viewport, prepare: options.prepare });
  opened.push(u);
  await expect(u.page.getByTestId('chat-status')).toHaveCount(0, { timeout: 20_000 }); // chat online
  return u;
}

test('contacts, presence, 20 messages each way in order, typing — WebSocket and BOSH', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  const carol = await user(browser, 'carol', { bosh: true });

  await befriend(alice.page, bob.page, 'bob', 'alice');
  // The roster shows display names, and presence.
  await expect(contact(alice.page, 'bob')).toContainText('Bob Builder');
  await expect(contact(alice.page, 'bob').getByTestId('contact-status')).toHaveText('Available');

  // bob goes away with a status message: alice sees it.
  await bob.page.getByTestId('my-presence').click();
  await bob.page.getByLabel('Status message').fill('at lunch');
  await bob.page.getByRole('button', { name: 'Away', exact: true }).click();
  await expect(contact(alice.page, 'bob').getByTestId('contact-status')).toHaveText('Away · at lunch');

  await openChat(alice.page, 'bob');
  await openChat(bob.page, 'alice');
  // Typing indicator.
  await alice.page.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('hel');
  await expect(bob.page.getByTestId('typing')).toHaveText('Alice Liddell is typing…');
  await alice.page.getByRole('textbox', { name: 'Message', exact: true }).fill('');

  for (let i = 1; i <= 20; i++) await say(alice.page, `a→b ${i}`);
  for (let i = 1; i <= 20; i++) await say(bob.page, `b→a ${i}`);
  const expected = [...Array.from({ length: 20 }, (_, i) => `a→b ${i + 1}`), ...Array.from({ length: 20 }, (_, i) => `b→a ${i + 1}`)];
  for (const page of [alice.page, bob.page]) {
    await expect(page.getByTestId('message')).toHaveCount(40);
    expect(await page.getByTestId('message').locator('.msg-body').allInnerTexts()).toEqual(expected);
  }
  // Delivery and read marks on alice's side.
  await expect(alice.page.getByTestId('receipt').last()).toHaveText(' · Read');

  // carol, over BOSH, befriends alice and they talk.
  await befriend(carol.page, alice.page, 'alice', 'carol');
  await openChat(carol.page, 'alice');
  await say(carol.page, 'hello from BOSH');
  await openChat(alice.page, 'carol');
  await expect(alice.page.getByText('hello from BOSH')).toBeVisible();
  await say(alice.page, 'hello back');
  await expect(carol.page.getByText('hello back')).toBeVisible();
  await alice.page.screenshot({ path: 'test-results/chat-alice.png' });
  await carol.page.screenshot({ path: 'test-results/chat-carol-bosh.png' });
});

test('a message sent while bob is offline reaches him when he signs in; history survives a reload', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  await openChat(alice.page, 'bob');
  await say(alice.page, 'are you there? (sent while you were away)');
  const bob = await user(browser, 'bob');
  await expect(contact(bob.page, 'alice').getByTestId('unread')).toHaveText('1');
  await openChat(bob.page, 'alice');
  await expect(bob.page.getByText('are you there? (sent while you were away)')).toBeVisible();

  // After a reload the conversation comes back from the server archive.
  await alice.page.reload();
  await expect(alice.page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
  await openChat(alice.page, 'bob');
  await expect(alice.page.getByText('are you there? (sent while you were away)')).toBeVisible();
  await expect(alice.page.getByText('b→a 20', { exact: true })).toBeVisible();
});

test('a three-person group chat, shown by its name to invitees and after a reload', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  const carol = await user(browser, 'carol');
  await alice.page.getByRole('button', { name: '+ New group' }).click();
  await alice.page.getByLabel('Name', { exact: true }).fill('Physics 101');
  await alice.page.getByLabel('Bob Builder').check();
  await alice.page.getByLabel('Carol Danvers').check();
  await alice.page.getByRole('button', { name: 'Create group' }).click();
  for (const u of [bob, carol]) {
    // Invitees see the group's name and who invites them, not the room's address or a user name.
    await expect(u.page.getByTestId('group-invitation')).toHaveText(/Alice Liddell invites you to Physics 101/);
    await u.page.getByTestId('group-invitation').getByRole('button', { name: 'Join' }).click();
    await expect(u.page.getByRole('button', { name: /^Physics 101/ })).toBeVisible();
  }
  await alice.page.getByRole('button', { name: 'Members' }).click();
  await expect(alice.page.getByTestId('members').locator('li')).toHaveCount(3);
  await say(alice.page, 'welcome to the group');
  await say(bob.page, 'thanks alice');
  await say(carol.page, 'hi all');
  for (const u of [alice, bob, carol]) {
    await expect(u.page.getByTestId('message').locator('.msg-body')).toHaveText(['welcome to the group', 'thanks alice', 'hi all']);
  }
  await expect(bob.page.locator('.msg-from').first()).toHaveText('Alice Liddell');
  await carol.page.screenshot({ path: 'test-results/group-carol.png' });
  // After a reload the group is rejoined by address and still shows its name.
  await bob.page.reload();
  await expect(bob.page.getByRole('button', { name: /^Physics 101/ })).toBeVisible({ timeout: 20_000 });
});

test('a picture sent in a chat is previewed', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  await openChat(alice.page, 'bob');
  await openChat(bob.page, 'alice');
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAJklEQVR4nGP8z4AfMBGQZ2AiIM/AxEBAnhGJwcjIyMgI5TOQYwsAm4QDGWwt0s4AAAAASUVORK5CYII=',
    'base64',
  );
  await alice.page.getByLabel('Send a file').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: png });
  const preview = bob.page.getByTestId('image-preview').last();
  await expect(preview).toBeVisible();
  await expect.poll(() => preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(16);
});

test('contacts see "in a call" while a SIP call is up', async ({ browser }) => {
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  const carol = await user(browser, 'carol');
  await expect(contact(carol.page, 'alice').getByTestId('contact-status')).toHaveText('Available');
  await openChat(alice.page, 'bob');
  await alice.page.getByRole('button', { name: 'Audio call Bob Builder' }).click();
  await bob.page.getByTestId('incoming-call').getByRole('button', { name: 'Accept' }).click();
  await expect(alice.page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expect(contact(carol.page, 'alice').getByTestId('contact-status')).toHaveText('In a call');
  await carol.page.screenshot({ path: 'test-results/in-a-call.png' });
  await alice.page.getByRole('button', { name: 'Hang up' }).click();
  await expect(contact(carol.page, 'alice').getByTestId('contact-status')).toHaveText('Available');
});

test('a contact request names who asks, the "sent" notice goes once accepted, links are clickable and safe, presence is "unknown" while chat is cut off', async ({ browser }) => {
  // erin's XMPP WebSocket passes through a route the test can cut (and keep cut) like a network drop.
  let cut = false;
  const xmppSockets: WebSocketRoute[] = [];
  const dave = await user(browser, 'dave');
  const erin = await user(browser, 'erin', {
    prepare: (context) =>
      context.routeWebSocket(/\/xmpp$/, (ws) => {
        if (cut) return void ws.close({ code: 4000, reason: 'network down' });
        ws.connectToServer();
        xmppSockets.push(ws);
      }),
  });

  await dave.page.getByPlaceholder('Add a contact…').fill('erin');
  await dave.page.getByRole('button', { name: 'Add', exact: true }).click();
  const notice = dave.page.getByRole('status').filter({ hasText: 'Contact request sent to erin' });
  await expect(notice).toBeVisible();
  // The request says who asks by name (XEP-0172 nick), with the user name beside it.
  await expect(erin.page.getByTestId('contact-request')).toContainText('Dave Grohl (dave) wants to add you');
  await erin.page.getByTestId('contact-request').getByRole('button', { name: 'Accept' }).click();
  await expect(contact(dave.page, 'erin')).toContainText('Erin Hannon');
  await expect(contact(erin.page, 'dave')).toContainText('Dave Grohl');
  await expect(notice).toHaveCount(0);

  await openChat(dave.page, 'erin');
  await openChat(erin.page, 'dave');
  await say(dave.page, 'the guide: https://example.org/guide. Not this: javascript:alert(1)');
  const received = erin.page.getByTestId('message').filter({ hasText: 'the guide' });
  await expect(received).toBeVisible();
  const links = received.getByRole('link');
  await expect(links).toHaveCount(1);
  await expect(links).toHaveText('https://example.org/guide');
  await expect(links).toHaveAttribute('href', 'https://example.org/guide');
  await expect(links).toHaveAttribute('target', '_blank');
  await expect(links).toHaveAttribute('rel', /noopener/);
  await expect(received).toContainText('Not this: javascript:alert(1)');

  await expect(contact(erin.page, 'dave').getByTestId('contact-status')).toHaveText('Available');
  cut = true;
  for (const ws of xmppSockets.splice(0)) await ws.close({ code: 4000, reason: 'network down' });
  await expect(contact(erin.page, 'dave').getByTestId('contact-status')).toHaveText('Unknown while chat is offline');
  await expect(erin.page.getByRole('img', { name: 'Unknown while chat is offline' }).first()).toBeVisible();
  cut = false; // the network is back: the app reconnects by itself and presence is known again
  await expect(contact(erin.page, 'dave').getByTestId('contact-status')).toHaveText('Available', { timeout: 30_000 });
});

test('on a phone-sized screen the message box stays on screen under a long conversation, and the status menu fits and closes on Escape or a tap elsewhere', async ({ browser }) => {
  const phone = { width: 390, height: 844 };
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob', { viewport: phone });
  await openChat(alice.page, 'bob');
  for (let i = 0; i < 25; i++) await say(alice.page, `line ${i}: enough text to need scrolling on a phone`);
  await bob.page.getByRole('tab', { name: 'Chats' }).click();
  await openChat(bob.page, 'alice');
  await expect(bob.page.getByText('line 24:')).toBeVisible();
  const box = bob.page.getByRole('textbox', { name: 'Message', exact: true });
  const b = (await box.boundingBox())!;
  expect(b.y + b.height).toBeLessThanOrEqual(phone.height);
  await box.fill('typed on the phone');
  await box.press('Enter');
  await expect(alice.page.getByText('typed on the phone')).toBeVisible();
  await bob.page.screenshot({ path: 'test-results/phone-chat.png' });

  const status = bob.page.getByTestId('my-presence');
  const menu = bob.page.getByRole('dialog', { name: 'Your status' });
  await status.click();
  const m = (await menu.boundingBox())!;
  expect(m.x).toBeGreaterThanOrEqual(0);
  expect(m.x + m.width).toBeLessThanOrEqual(phone.width);
  await bob.page.keyboard.press('Escape');
  await expect(menu).toHaveCount(0);
  await expect(status).toBeFocused();
  await status.click();
  await expect(menu).toBeVisible();
  await bob.page.getByTestId('chat-pane').click({ position: { x: 20, y: 300 } });
  await expect(menu).toHaveCount(0);
});
