/**
 * The shared SIP location service against a real redis-server: two nodes' stores over one Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../../../server-common/test-support/redisServer.js';
import type { Binding } from './locationStore.js';
import { RedisLocationStore } from './redisLocationStore.js';

let server: RedisServer;
let redis: Redis;
const alive = new Set(['node-a', 'node-b']);
let prefix = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url, { lazyConnect: false });
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function stores(): [RedisLocationStore, RedisLocationStore] {
  const keyPrefix = `t${++prefix}`;
  const make = (nodeId: string) =>
    new RedisLocationStore({ redis, keyPrefix, nodeId, isNodeAlive: (id) => alive.has(id) });
  return [make('node-a'), make('node-b')];
}

function binding(node: string, contact: string, flowId: string, o: Partial<Binding> = {}): Binding {
  return {
    aor: 'bob@parley.test',
    contact,
    q: 1,
    expiresAt: Date.now() + 60_000,
    callId: `call-${contact}`,
    cseq: 1,
    flowId,
    transport: 'tcp',
    sourceAddress: '127.0.0.1',
    sourcePort: 5062,
    path: [],
    registeredAt: Date.now(),
    node,
    ...o,
  };
}

describe('RedisLocationStore', () => {
  it('shows a binding written on one node to the other', async () => {
    const [a, b] = stores();
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@10.0.0.1', 'f1')], []);
    const seen = await b.list('bob@parley.test');
    expect(seen.map((x) => [x.contact, x.node])).toEqual([['sip:bob@10.0.0.1', 'node-a']]);
    expect(await a.size()).toBe(1);
    expect(await b.size()).toBe(0);
  });

  it('keeps both devices when two nodes register the same user at once', async () => {
    const [a, b] = stores();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).update('bob@parley.test', [binding(i % 2 ? 'node-a' : 'node-b', `sip:bob@10.0.0.${i}`, `f${i}`)], []),
      ),
    );
    expect((await a.list('bob@parley.test')).length).toBe(20);
  });

  it('removes only the bindings a closed flow still owns', async () => {
    const [a, b] = stores();
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@desk', 'flow-old')], []);
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@laptop', 'flow-old')], []);
    // The desk phone re-registers through node B before node A notices its old connection close.
    await b.update('bob@parley.test', [binding('node-b', 'sip:bob@desk', 'flow-new')], []);
    expect(await a.removeFlow('flow-old')).toEqual(['bob@parley.test']);
    const left = await b.list('bob@parley.test');
    expect(left.map((x) => [x.contact, x.node, x.flowId])).toEqual([['sip:bob@desk', 'node-b', 'flow-new']]);
    expect(await a.removeFlow('flow-old')).toEqual([]);
  });

  it('hides bindings of a node the directory no longer lists, and expired ones', async () => {
    const [a, b] = stores();
    alive.add('node-c');
    await a.update('bob@parley.test', [binding('node-c', 'sip:bob@gone', 'fc'), binding('node-a', 'sip:bob@old', 'fo', { expiresAt: Date.now() - 1 })], []);
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@here', 'fa')], []);
    expect((await b.list('bob@parley.test')).map((x) => x.contact).sort()).toEqual(['sip:bob@gone', 'sip:bob@here']);
    alive.delete('node-c');
    expect((await b.list('bob@parley.test')).map((x) => x.contact)).toEqual(['sip:bob@here']);
  });

  it('lets the hash expire with its last binding, never before', async () => {
    const [a] = stores();
    const key = `t${prefix}:gw:loc:bob@parley.test`;
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@long', 'f1', { expiresAt: Date.now() + 120_000 })], []);
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@short', 'f2', { expiresAt: Date.now() + 10_000 })], []);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(100_000);
    await a.removeAll('bob@parley.test');
    expect(await redis.exists(key)).toBe(0);
    expect(await a.size()).toBe(0);
  });

  it('unregistering one contact leaves the other node’s device', async () => {
    const [a, b] = stores();
    await a.update('bob@parley.test', [binding('node-a', 'sip:bob@desk', 'fa')], []);
    await b.update('bob@parley.test', [binding('node-b', 'sip:bob@soft', 'fb')], []);
    await b.update('bob@parley.test', [], ['c:sip:bob@desk']);
    expect((await a.list('bob@parley.test')).map((x) => x.contact)).toEqual(['sip:bob@soft']);
    // Node A's flow closing later removes nothing: the field no longer holds what A wrote.
    expect(await a.removeFlow('fa')).toEqual([]);
    expect(await a.size()).toBe(0);
  });
});
