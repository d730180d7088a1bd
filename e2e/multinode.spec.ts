/**
 * Scale-out: a real redis-server, two standalone SFU nodes and a gateway without an embedded
 * node. Conferences spread over the nodes, stay together, skip a full node, and move to the
 * surviving node when the one hosting them is killed — with a browser back in the meeting,
 * media flowing, and nobody clicking anything.
 */
import { expect, test } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { startRedisServer, type RedisServer } from '../server-common/test-support/redisServer.js';
import { api, signIn as apiSignIn } from '../server-common/test-support/restClient.js';
import { SfuNodeProcess } from '../sfu/test-support/sfuNodeProcess.js';
import { openUser, signIn, type UserPage } from './support/browser.js';
import { expectReceiving, joinFromPreJoin, tile } from './support/meeting.js';

const PASSWORD = 'correct-horse-battery';
const SECRET = 'multi-node-shared-secret-0123456789abcdef';
test.describe.configure({ mode: 'serial' });

let redis: RedisServer;
let nodeA: SfuNodeProcess;
let nodeB: SfuNodeProcess;
let gateway: GatewayProcess;
const opened: UserPage[] = [];

test.beforeAll(async () => {
  redis = await startRedisServer();
  // Fast heartbeats so a killed node is noticed within a couple of seconds.
  // Short pin TTL: the first test's conferences, which nobody actually joins, expire quickly.
  const fast = { PARLEY_SFU_HEARTBEAT_MS: '250', PARLEY_SFU_NODE_TTL_MS: '1500', PARLEY_SFU_PIN_TTL_MS: '2000' };
  nodeA = new SfuNodeProcess({ nodeId: 'sfu-a', redisUrl: redis.url, secret: SECRET, env: { ...fast, PARLEY_SFU_MAX_CONFERENCES: '3' } });
  nodeB = new SfuNodeProcess({ nodeId: 'sfu-b', redisUrl: redis.url, secret: SECRET, env: { ...fast, PARLEY_SFU_MAX_CONFERENCES: '10' } });
  await Promise.all([nodeA.start(), nodeB.start()]);
  gateway = new GatewayProcess({
    env: { PARLEY_SFU_EMBEDDED: 'false', REDIS_URL: redis.url, PARLEY_SFU_SECRET: SECRET, ...fast },
  });
  for (const name of ['alice', 'bob', 'carol']) gateway.addUser(name, PASSWORD);
  await gateway.start();
});

test.afterEach(async ({}, testInfo) => {
  for (const u of opened.splice(0)) await u.context.close();
  // The servers' own logs explain a failure better than a screenshot does.
  if (testInfo.status !== testInfo.expectedStatus) {
    for (const [name, proc] of [['gateway', gateway], ['sfu-a', nodeA], ['sfu-b', nodeB]] as const) {
      await testInfo.attach(`${name}.log`, { body: proc.output, contentType: 'text/plain' });
    }
  }
});

test.afterAll(async () => {
  await gateway?.stop();
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await redis?.stop();
});

async function joinApi(cookie: string, conference: string): Promise<string> {
  const { status, body } = await api(gateway.url, 'POST', `/api/conferences/${conference}/join`, { cookie, body: {} });
  expect(status, JSON.stringify(body)).toBe(200);
  return body.node as string;
}

test('ten conferences spread over both nodes, each stays on one node, and a node at its limit is skipped', async () => {
  const alice = await apiSignIn(gateway.url, 'alice', PASSWORD);
  const bob = await apiSignIn(gateway.url, 'bob', PASSWORD);
  const placed: Record<string, string> = {};
  for (let i = 0; i < 10; i++) {
    const conference = `spread-${i}`;
    // Two people start it at the same instant; they must land on the same node.
    const [a, b] = await Promise.all([joinApi(alice, conference), joinApi(bob, conference)]);
    expect(b, conference).toBe(a);
    placed[conference] = a;
  }
  const perNode = Object.values(placed).reduce<Record<string, number>>((n, id) => ({ ...n, [id]: (n[id] ?? 0) + 1 }), {});
  // Load is relative to each node's limit (3 and 10 conferences): both fill at the same pace.
  expect(perNode).toEqual({ 'sfu-a': 3, 'sfu-b': 7 });
  expect(new Set(['spread-0', 'spread-1'].map((c) => placed[c])).size).toBe(2);
  // Later joins go where the conference already is.
  for (const [conference, node] of Object.entries(placed)) expect(await joinApi(alice, conference)).toBe(node);
  // sfu-a is at its limit: it is skipped until sfu-b is full too; then joins are refused.
  for (let i = 10; i < 13; i++) expect(await joinApi(alice, `spread-${i}`)).toBe('sfu-b');
  const refused = await api(gateway.url, 'POST', '/api/conferences/spread-13/join', { cookie: alice, body: {} });
  expect(refused.status).toBe(503);
  expect((refused.body.error as { message: string }).message).toMatch(/All 2 conference server\(s\) are at their limit/);
});

test('kill -9 of the node hosting a meeting: the browser is back in the meeting on the other node with media flowing', async ({ browser }) => {
  const conference = 'failover-room';
  // The first test filled both nodes with conferences nobody joined; wait for those pins to expire.
  const carol = await apiSignIn(gateway.url, 'carol', PASSWORD);
  await expect
    .poll(async () => (await api(gateway.url, 'POST', `/api/conferences/${conference}/join`, { cookie: carol, body: {} })).status, {
      timeout: 20_000,
    })
    .toBe(200);
  const users: UserPage[] = [];
  for (const name of ['alice', 'bob']) {
    const u = await openUser(browser, gateway.url, name, { viewport: { width: 1280, height: 720 } });
    opened.push(u);
    await u.page.goto(`/meet/${conference}`);
    await signIn(u.page, name, PASSWORD);
    await joinFromPreJoin(u.page);
    users.push(u);
  }
  const [alice, bob] = users;
  await expectReceiving(alice.page, 'alice', ['bob']);
  await expectReceiving(bob.page, 'bob', ['alice']);

  const cookie = carol;
  const hosting = await joinApi(cookie, conference);
  const [doomed, survivor] = hosting === 'sfu-a' ? [nodeA, nodeB] : [nodeB, nodeA];
  await doomed.stop('SIGKILL');

  await expect(alice.page.getByTestId('reconnecting')).toBeVisible({ timeout: 15_000 });
  await expect(alice.page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 45_000 });
  await expect(bob.page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 45_000 });
  expect(await joinApi(cookie, conference)).toBe(survivor.options.nodeId);
  await expectReceiving(alice.page, 'alice', ['bob']);
  await expectReceiving(bob.page, 'bob', ['alice']);
  await expect(tile(alice.page, 'bob')).toHaveCount(1);
});
