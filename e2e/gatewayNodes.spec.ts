/**
 * Two gateway nodes behind Debian's HAProxy (HTTP/WebSocket with a sticky cookie, and plain
 * TCP for XMPP clients), on one PostgreSQL and one redis-server, with a standalone SFU node:
 * alice's browser is on node 1, everyone else's on node 2. Calls with media, chat both ways,
 * presence, a group chat and a meeting all cross the nodes. Then node 1 is killed (SIGKILL):
 * alice's page comes back by itself through the proxy, on node 2, reachable for calls and chat;
 * the others see her go and come back; what was sent to her, and what she wrote, meanwhile
 * arrives; and a call
 * between two people on node 2 goes on as if nothing happened.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { connect as connectXmpp, isMessageFrom, xml, type TestXmpp } from '../gateway/test-support/xmppClient.js';
import { hasHaproxy, startHaproxy, STICKY_COOKIE, type Haproxy } from '../server-common/test-support/haproxy.js';
import { freeTcpPort } from '../server-common/test-support/ports.js';
import { startPostgresServer, type PostgresServer } from '../server-common/test-support/postgresServer.js';
import { startRedisServer, type RedisServer } from '../server-common/test-support/redisServer.js';
import { SfuNodeProcess } from '../sfu/test-support/sfuNodeProcess.js';
import { expectMediaFlowing, openUser, signIn, type UserPage } from './support/browser.js';
import { befriend, contact, openChat, say, startCall } from './support/chat.js';
import { expectReceiving, joinFromPreJoin } from './support/meeting.js';

const PASSWORD = 'correct-horse-battery';
const SFU_SECRET = 'gateway-nodes-sfu-secret-0123456789abcdef';
const NAMES: Record<string, string> = { alice: 'Alice Liddell', bob: 'Bob Builder', carol: 'Carol Danvers', dave: 'Dave Grohl', erin: 'Erin Hannon' };
test.describe.configure({ mode: 'serial' });
test.skip(!hasHaproxy(), 'needs Debian haproxy (installed by the test command)');

let postgres: PostgresServer;
let redis: RedisServer;
let sfu: SfuNodeProcess;
let node1: GatewayProcess;
let node2: GatewayProcess;
let proxy: Haproxy;
let baseUrl = '';
const users: Record<string, UserPage> = {};
let erin: TestXmpp | undefined;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  [postgres, redis] = await Promise.all([startPostgresServer(), startRedisServer()]);
  const databaseUrl = await postgres.createDatabase('gateway_nodes');
  sfu = new SfuNodeProcess({ nodeId: 'sfu-1', redisUrl: redis.url, secret: SFU_SECRET });
  const webPort = await freeTcpPort();
  baseUrl = `http://localhost:${webPort}`;
  // As an operator runs them: the defaults (node TTL 4 s), the proxy's address as the public one.
  const env = (id: string) => ({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    PARLEY_NODE_ID: id,
    PARLEY_PUBLIC_URL: baseUrl,
    PARLEY_SFU_EMBEDDED: 'false',
    PARLEY_SFU_SECRET: SFU_SECRET,
  });
  node1 = new GatewayProcess({ env: env('node-1') });
  node2 = new GatewayProcess({ env: env('node-2') });
  await sfu.start();
  await node1.start(); // creates the schema
  await node2.start();
  for (const [name, display] of Object.entries(NAMES)) node1.addUser(name, PASSWORD, display);
  proxy = await startHaproxy([
    { name: 'web', mode: 'http', port: webPort, servers: [{ name: 'n1', port: node1.httpPort }, { name: 'n2', port: node2.httpPort }] },
    { name: 'xmpp', mode: 'tcp', servers: [{ name: 'n1', port: node1.xmppPort }, { name: 'n2', port: node2.xmppPort }] },
  ]);
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status === testInfo.expectedStatus) return;
  for (const [name, proc] of [['node-1', node1], ['node-2', node2], ['sfu', sfu]] as const) {
    await testInfo.attach(`${name}.log`, { body: proc.output, contentType: 'text/plain' });
  }
  await testInfo.attach('haproxy.log', { body: proxy.output, contentType: 'text/plain' });
});

test.afterAll(async () => {
  for (const u of Object.values(users)) await u.context.close();
  await erin?.stop().catch(() => undefined);
  await proxy?.stop();
  await Promise.all([node1?.stop(), node2?.stop(), sfu?.stop()]);
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

/** Signs a user in through the proxy, pinned to one node by the proxy's sticky cookie. */
async function signInOn(browser: Browser, name: string, node: 'n1' | 'n2'): Promise<Page> {
  const u = await openUser(browser, baseUrl, name, { signIn: { password: PASSWORD }, cookies: { [STICKY_COOKIE]: node } });
  users[name] = u;
  await expect(u.page.getByTestId('chat-status')).toHaveCount(0, { timeout: 20_000 }); // chat online
  return u.page;
}

/** The page is reachable again: registered for calls and chat online. */
async function expectBack(page: Page, timeout: number): Promise<void> {
  await expect(page.getByTestId('registration')).toHaveText('Ready for calls', { timeout });
  await expect(page.getByTestId('chat-status')).toHaveCount(0, { timeout });
}

/**
 * Starts recording, inside the page, every text the registration badge shows from now on: the
 * page may notice the outage and be back before a test step could look (it is back within a
 * second), so polling for the 'not ready' moment races it.
 */
async function recordRegistrationStates(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const seen: string[] = [];
    const record = () => {
      const text = document.querySelector('[data-testid="registration"]')?.textContent ?? '(none)';
      if (seen[seen.length - 1] !== text) seen.push(text);
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
    (window as unknown as { registrationStates: string[] }).registrationStates = seen;
  });
  return () => page.evaluate(() => (window as unknown as { registrationStates: string[] }).registrationStates);
}

const chats = (page: Page) => page.getByRole('tab', { name: 'Chats' }).click();

async function answer(page: Page): Promise<void> {
  await page.getByTestId('incoming-call').getByRole('button', { name: 'Accept' }).click();
  await expect(page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
}

async function hangUp(a: Page, b: Page): Promise<void> {
  await a.getByRole('button', { name: 'Hang up' }).click();
  await expect(a.getByTestId('call-screen')).toHaveCount(0);
  await expect(b.getByTestId('call-screen')).toHaveCount(0);
}

test('alice on node 1 and bob on node 2: contacts, presence, chat both ways and a video call with media', async ({ browser }) => {
  const alice = await signInOn(browser, 'alice', 'n1');
  const bob = await signInOn(browser, 'bob', 'n2');
  const carol = await signInOn(browser, 'carol', 'n2');
  const dave = await signInOn(browser, 'dave', 'n2');
  // The cookie put them where we asked: node 1 holds alice's sessions, node 2 the other three.
  expect(await node1.metric('xmpp_sessions')).toBe(1);
  expect(await node2.metric('xmpp_sessions')).toBe(3);
  expect(await node1.metric('sip_bindings')).toBe(1);
  expect(await node2.metric('sip_bindings')).toBe(3);

  await befriend(alice, bob, 'bob', 'alice');
  await befriend(alice, carol, 'carol', 'alice');
  await befriend(bob, dave, 'dave', 'bob');
  await expect(contact(bob, 'alice').getByTestId('contact-status')).toHaveText('Available');
  await expect(contact(alice, 'bob').getByTestId('contact-status')).toHaveText('Available');

  await openChat(alice, 'bob');
  await openChat(bob, 'alice');
  await say(alice, 'hello from node 1');
  await expect(bob.getByText('hello from node 1')).toBeVisible();
  await say(bob, 'hello from node 2');
  await expect(alice.getByText('hello from node 2')).toBeVisible();

  // A video call from node 1 to node 2: the INVITE crosses the nodes (SIP between them).
  const relaysBefore = (await node1.metric('sip_node_relays_sent_total')) + (await node2.metric('sip_node_relays_sent_total'));
  await startCall(alice, 'bob');
  await expect(bob.getByTestId('incoming-call')).toContainText('Alice Liddell');
  await answer(bob);
  await expect(alice.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expectMediaFlowing(alice, 'alice');
  await expectMediaFlowing(bob, 'bob');
  await hangUp(bob, alice);
  const relaysAfter = (await node1.metric('sip_node_relays_sent_total')) + (await node2.metric('sip_node_relays_sent_total'));
  expect(relaysAfter).toBeGreaterThan(relaysBefore);
});

test('a group chat of three across the nodes, with a native XMPP client joining through the TCP proxy', async () => {
  const { alice, bob, carol } = { alice: users.alice!.page, bob: users.bob!.page, carol: users.carol!.page };
  for (const page of [alice, bob, carol]) await chats(page);
  await alice.getByRole('button', { name: '+ New group' }).click();
  await alice.getByLabel('Name', { exact: true }).fill('Across nodes');
  await alice.getByRole('checkbox', { name: 'Bob Builder' }).check();
  await alice.getByRole('checkbox', { name: 'Carol Danvers' }).check();
  await alice.getByRole('button', { name: 'Create group' }).click();
  for (const page of [bob, carol]) {
    await expect(page.getByTestId('group-invitation')).toContainText('Alice Liddell invites you to');
    await page.getByTestId('group-invitation').getByRole('button', { name: 'Join' }).click();
  }
  await alice.getByRole('button', { name: 'Members' }).click();
  await expect(alice.getByTestId('members').locator('li')).toHaveCount(3);
  await say(alice, 'welcome, both nodes');
  await say(bob, 'bob here on node 2');
  await say(carol, 'carol too');
  for (const page of [alice, bob, carol]) {
    await expect(page.getByTestId('message').locator('.msg-body')).toHaveText(['welcome, both nodes', 'bob here on node 2', 'carol too']);
  }
  // erin, a desktop XMPP client (xmpp.js over plain TCP through the proxy's TCP frontend, on
  // whichever node it picks), asks alice to be a contact; they chat.
  erin = await connectXmpp({ xmppPort: proxy.ports.xmpp!, httpPort: 0 }, 'erin', PASSWORD, { resource: 'laptop' });
  await erin.xmpp.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
  await expect(alice.getByTestId('contact-request')).toContainText('erin');
  await alice.getByTestId('contact-request').getByRole('button', { name: 'Accept' }).click();
  await erin.waitFor((s) => s.name === 'presence' && s.attrs.from === 'alice@localhost' && s.attrs.type === 'subscribed', 10_000, 'alice accepting');
  await openChat(alice, 'erin');
  await say(alice, 'hello desktop client');
  await erin.waitFor(isMessageFrom('alice@localhost/', 'hello desktop client'), 10_000, 'alice’s message');
  await erin.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'hello browser')));
  await expect(alice.getByText('hello browser')).toBeVisible();
  await erin.stop();
  erin = undefined;
});

test('a meeting with alice on node 1 and bob on node 2: both receive each other', async ({ browser }) => {
  const pages: Page[] = [];
  for (const [name, node] of [['alice', 'n1'], ['bob', 'n2']] as const) {
    const u = await openUser(browser, baseUrl, `${name}-meeting`, { cookies: { [STICKY_COOKIE]: node }, viewport: { width: 1280, height: 720 } });
    await u.page.goto('/meet/nodes-standup');
    await signIn(u.page, name, PASSWORD);
    await joinFromPreJoin(u.page);
    users[`${name}-meeting`] = u;
    pages.push(u.page);
  }
  await expectReceiving(pages[0]!, 'alice', ['Bob Builder']);
  await expectReceiving(pages[1]!, 'bob', ['Alice Liddell']);
  for (const name of ['alice-meeting', 'bob-meeting']) {
    await users[name]!.context.close();
    delete users[name];
  }
});

test('kill -9 of node 1: alice is back by herself within seconds, reachable for calls and chat; nothing sent to her is lost; a call on node 2 goes on', async ({}, testInfo) => {
  const { alice, bob, carol, dave } = { alice: users.alice!.page, bob: users.bob!.page, carol: users.carol!.page, dave: users.dave!.page };
  // A call between two people on node 2, up while node 1 dies.
  await startCall(bob, 'dave');
  await answer(dave);
  await expectMediaFlowing(dave, 'dave before the kill');
  await chats(carol);
  await openChat(carol, 'alice');

  const registrationStates = await recordRegistrationStates(alice);
  await node1.stop('SIGKILL');
  const killedAt = Date.now();
  // Sent while alice's server is dead and before anyone has noticed — to her, and by her.
  await say(carol, 'sent while your server was down');
  await chats(alice);
  await openChat(alice, 'carol');
  await say(alice, 'written while my server was down');

  // alice's page notices, then comes back through the proxy (now on node 2) without a click.
  await expect.poll(async () => (await registrationStates()).filter((text) => text !== 'Ready for calls'), { timeout: 15_000 }).not.toEqual([]);
  await expectBack(alice, 30_000);
  const backAfterMs = Date.now() - killedAt;
  testInfo.annotations.push({ type: 'reconnected', description: `alice registered and chatting again ${backAfterMs} ms after kill -9 of her node` });
  console.log(`alice back ${backAfterMs} ms after kill -9 of node 1`);
  expect(await node2.metric('xmpp_sessions')).toBe(4);

  // The others see her as she is: online again (bob looks once his call is over).
  await chats(alice);
  // …and she sees them: her contacts' presence came back with her new session.
  await expect(contact(alice, 'carol').getByTestId('contact-status')).toHaveText('Available');
  await expect(contact(alice, 'bob').getByTestId('contact-status')).toHaveText('In a call');
  await expect(contact(carol, 'alice').getByTestId('contact-status')).toHaveText('Available');

  // What carol sent during the outage reached her, and what she wrote reached carol.
  await openChat(alice, 'carol');
  await expect(alice.getByText('sent while your server was down')).toBeVisible();
  await expect(carol.getByText('written while my server was down')).toBeVisible();
  await say(alice, 'got it, I am back');
  await expect(carol.getByText('got it, I am back')).toBeVisible();

  // The call on node 2 never noticed.
  await expect(bob.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expectMediaFlowing(bob, 'bob after the kill');
  await expectMediaFlowing(dave, 'dave after the kill');
  await hangUp(dave, bob);
  await expect(contact(alice, 'bob').getByTestId('contact-status')).toHaveText('Available');
  await chats(bob);
  await expect(contact(bob, 'alice').getByTestId('contact-status')).toHaveText('Available');

  // alice can be called again.
  await startCall(carol, 'alice');
  await expect(alice.getByTestId('incoming-call')).toContainText('Carol Danvers');
  await answer(alice);
  await expectMediaFlowing(alice, 'alice after coming back');
  await expectMediaFlowing(carol, 'carol');
  await hangUp(alice, carol);

  // The group chat moved with its last home: everyone is in it again and it works.
  await chats(alice);
  await alice.getByRole('button', { name: /across.nodes/i }).first().click();
  await say(alice, 'still together');
  await bob.getByRole('button', { name: /across.nodes/i }).first().click();
  await expect(bob.getByText('still together')).toBeVisible();
});
