import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../../server-common/test-support/redisServer.js';
import {
  NoSfuNodeAvailableError,
  type ConferenceRegistry,
  type ConferenceRegistryOptions,
  type SfuNodeStatus,
} from './conferenceRegistry.js';
import { MemoryConferenceRegistry } from './memoryRegistry.js';
import { RedisConferenceRegistry } from './redisRegistry.js';

/** Two registry handles as two gateway nodes would hold them (one shared store). */
interface Pair {
  a: ConferenceRegistry;
  b: ConferenceRegistry;
}

let redis: RedisServer;
let prefixCounter = 0;
const opened: ConferenceRegistry[] = [];

const stores: [string, (options: Partial<ConferenceRegistryOptions>) => Pair][] = [
  [
    'memory',
    (options) => {
      const shared = new MemoryConferenceRegistry(options);
      return { a: shared, b: shared };
    },
  ],
  [
    'redis',
    (options) => {
      // A fresh key prefix per test keeps tests independent on one redis-server.
      const keyPrefix = `t${++prefixCounter}`;
      const a = new RedisConferenceRegistry(redis.url, { ...options, keyPrefix });
      const b = new RedisConferenceRegistry(redis.url, { ...options, keyPrefix });
      opened.push(a, b);
      return { a, b };
    },
  ],
];

beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  await redis?.stop();
});

function node(id: string, load: Partial<SfuNodeStatus> = {}): SfuNodeStatus {
  return {
    id,
    url: `ws://127.0.0.1/${id}`,
    consumers: 0,
    producers: 0,
    cpu: 0,
    maxConferences: 100,
    maxConsumers: 1000,
    ...load,
  };
}

async function waitUntil(condition: () => Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(stores)('conference registry (%s)', (_name, open) => {
  it('pins a conference to one node even when both gateways start it at the same instant', async () => {
    const { a, b } = open({});
    await a.publishNode(node('sfu-1'), []);
    await b.publishNode(node('sfu-2'), []);
    const conferences = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    const attempts = conferences.flatMap((conference) =>
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).pin(conference).then((r) => ({ conference, r }))),
    );
    const results = await Promise.all(attempts);
    for (const conference of conferences) {
      const mine = results.filter((x) => x.conference === conference);
      const nodes = new Set(mine.map((x) => x.r.node.id));
      expect(nodes.size, conference).toBe(1);
      expect(mine.filter((x) => x.r.created).length, `${conference} created once`).toBe(1);
      expect((await a.lookup(conference))?.id).toBe([...nodes][0]);
    }
  });

  it('puts a new conference on the least-loaded live node and spreads conferences evenly', async () => {
    const { a } = open({});
    await a.publishNode(node('busy', { consumers: 600 }), []);
    await a.publishNode(node('idle', { consumers: 20 }), []);
    expect((await a.pin('first')).node.id).toBe('idle');

    await a.publishNode(node('busy', { consumers: 0 }), []);
    await a.publishNode(node('idle', { consumers: 0 }), ['first']);
    const placed: string[] = [];
    for (let i = 0; i < 9; i++) placed.push((await a.pin(`spread-${i}`)).node.id);
    const counts = Object.fromEntries((await a.liveNodes()).map((n) => [n.id, n.conferences]));
    expect(counts).toEqual({ busy: 5, idle: 5 });
    expect(placed.filter((id) => id === 'busy').length).toBe(5);
  });

  it('skips a node at its limit and refuses when every node is at its limit', async () => {
    const { a } = open({});
    await a.publishNode(node('small', { maxConferences: 2 }), []);
    await a.publishNode(node('full', { consumers: 1000 }), []);
    expect((await a.pin('c1')).node.id).toBe('small');
    expect((await a.pin('c2')).node.id).toBe('small');
    const err = await a.pin('c3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoSfuNodeAvailableError);
    expect((err as Error).message).toMatch(/at their limit/);
    // A node that frees capacity is chosen again; existing pins keep working meanwhile.
    expect((await a.pin('c1')).node.id).toBe('small');
    await a.publishNode(node('full', { consumers: 10 }), []);
    expect((await a.pin('c3')).node.id).toBe('full');
  });

  it('lets a dead node’s pins expire so the next join re-pins the conference on a live node', async () => {
    const { a, b } = open({ nodeTtlMs: 300, pinTtlMs: 5000 });
    await a.publishNode(node('doomed'), []);
    const first = await a.pin('standup');
    expect(first.node.id).toBe('doomed');
    await a.publishNode(node('doomed'), ['standup']);
    // The survivor keeps beating; the doomed node stops (as after kill -9).
    const survivor = setInterval(() => void b.publishNode(node('survivor'), []), 50);
    try {
      await b.publishNode(node('survivor'), []);
      await waitUntil(async () => (await b.lookup('standup')) === null, 'the dead node to expire');
      expect((await b.liveNodes()).map((n) => n.id)).toEqual(['survivor']);
      const again = await b.pin('standup');
      expect(again).toMatchObject({ created: true, node: { id: 'survivor' } });
      expect((await a.lookup('standup'))?.id).toBe('survivor');
    } finally {
      clearInterval(survivor);
    }
  });

  it('keeps pins alive while their node hosts them and releases them only for the owner', async () => {
    const { a } = open({ pinTtlMs: 300 });
    await a.publishNode(node('sfu-1'), []);
    await a.pin('kept');
    await a.pin('abandoned');
    // Heartbeats renew the pins of hosted conferences; a pin nobody joined expires.
    const started = Date.now();
    while (Date.now() - started < 700) {
      await a.publishNode(node('sfu-1'), ['kept']);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await a.lookup('kept'))?.id).toBe('sfu-1');
    expect(await a.lookup('abandoned')).toBeNull();
    expect((await a.liveNodes())[0]?.conferences).toBe(1);

    // Empty for the grace period: the node releases the pin; another node cannot.
    expect(await a.release('kept', 'someone-else')).toBe(false);
    expect(await a.release('kept', 'sfu-1')).toBe(true);
    expect(await a.lookup('kept')).toBeNull();
    expect(await a.release('kept', 'sfu-1')).toBe(false);
  });

  it('tells a node that comes back which of its conferences moved to another node', async () => {
    const { a, b } = open({ nodeTtlMs: 200 });
    await a.publishNode(node('flaky'), []);
    await a.pin('moved');
    await a.publishNode(node('flaky'), ['moved']);
    const beat = setInterval(() => void b.publishNode(node('steady'), []), 40);
    try {
      await b.publishNode(node('steady'), []);
      await waitUntil(async () => (await b.lookup('moved')) === null, 'flaky to expire');
      expect((await b.pin('moved')).node.id).toBe('steady');
      // flaky returns still believing it hosts 'moved': the registry tells it otherwise.
      expect(await a.publishNode(node('flaky'), ['moved'])).toEqual({ lost: ['moved'] });
      expect((await a.lookup('moved'))?.id).toBe('steady');
    } finally {
      clearInterval(beat);
    }
  });

  it('forgets a node that leaves cleanly, and its pins, at once', async () => {
    const { a } = open({});
    await a.publishNode(node('leaving'), []);
    await a.publishNode(node('staying', { consumers: 500 }), []);
    expect((await a.pin('x')).node.id).toBe('leaving');
    await a.removeNode('leaving');
    expect(await a.lookup('x')).toBeNull();
    expect((await a.liveNodes()).map((n) => n.id)).toEqual(['staying']);
    expect((await a.pin('x')).node.id).toBe('staying');
  });

  it('lets the node a join token names claim a conference whose pin lapsed, unless another live node holds it', async () => {
    const { a, b } = open({ pinTtlMs: 5000 });
    await a.publishNode(node('sfu-1'), []);
    await b.publishNode(node('sfu-2', { consumers: 900 }), []);
    expect(await a.claim('lapsed', 'sfu-2')).toBe('sfu-2');
    expect((await b.lookup('lapsed'))?.id).toBe('sfu-2');
    // Already held by a live node: the claim names the holder instead.
    expect(await b.claim('lapsed', 'sfu-1')).toBe('sfu-2');
    // A node that is not alive cannot claim anything.
    expect(await a.claim('other', 'ghost')).toBeNull();
    expect(await a.lookup('other')).toBeNull();
  });

  it('refuses when no node is alive', async () => {
    const { a } = open({});
    await expect(a.pin('lonely')).rejects.toThrow(/No conference server is running/);
  });
});
