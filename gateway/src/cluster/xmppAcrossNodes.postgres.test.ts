/**
 * XMPP across two gateway nodes (real processes on one PostgreSQL and one Debian redis-server,
 * clients from xmpp.js): users on different nodes become contacts, see each other's presence,
 * exchange thousands of messages in order with none lost, get carbons from a device on the other
 * node — and when a node is killed, its users are shown unavailable everywhere else and what
 * is sent to them waits in offline storage, even what was on its way to the dead node.
 */
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../../../server-common/test-support/postgresDatabase.js';
import { startRedisServer, type RedisServer } from '../../../server-common/test-support/redisServer.js';
import { GatewayProcess } from '../../test-support/gatewayProcess.js';
import { befriend, connect, isMessageFrom, isPresenceFrom, roomConfig, xml, type TestXmpp } from '../../test-support/xmppClient.js';

const PASSWORD = 'xmpp-nodes-secret';
const MESSAGES = 2000;
let redis: RedisServer;
let a: GatewayProcess;
let b: GatewayProcess;
const open: TestXmpp[] = [];

async function user(gw: GatewayProcess, name: string, resource: string): Promise<TestXmpp> {
  const c = await connect(gw, name, PASSWORD, { resource });
  open.push(c);
  return c;
}

const MUC_USER = 'http://jabber.org/protocol/muc#user';
const statusCodes = (s: Element) => (s.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((x: Element) => x.attrs.code);

async function join(c: TestXmpp, room: string, nick: string): Promise<Element> {
  await c.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
  return c.waitFor(
    (s) => s.name === 'presence' && s.attrs.from === `${room}/${nick}` && (statusCodes(s).includes('110') || s.attrs.type === 'error'),
    5000,
    `joining ${room}`,
  );
}

const groupchat = (room: string, body: string) => xml('message', { to: room, type: 'groupchat' }, xml('body', {}, body));
const isGroupchat = (room: string, nick: string, body: string) => (s: Element) =>
  s.name === 'message' && s.attrs.type === 'groupchat' && s.attrs.from === `${room}/${nick}` && s.getChildText('body') === body;

const chat = (to: string, body: string) => xml('message', { to, type: 'chat' }, xml('body', {}, body));

/** Resolves with the bodies of the first `n` chat messages from `from`, in arrival order. */
function collect(c: TestXmpp, from: string, n: number, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const timer = setTimeout(() => {
      const have = new Set(got);
      const missing = got.length ? Array.from({ length: n }, (_, i) => `${got[0]![0]}${i}`).filter((b) => !have.has(b)) : [];
      reject(new Error(`got ${got.length} of ${n} messages from ${from}; missing ${missing.slice(0, 10).join(' ')}`));
    }, timeoutMs);
    const onStanza = (s: Element) => {
      if (!isMessageFrom(from)(s) || !s.getChildText('body')) return;
      got.push(s.getChildText('body')!);
      if (got.length === n) {
        clearTimeout(timer);
        c.xmpp.off('stanza', onStanza);
        resolve(got);
      }
    };
    c.xmpp.on('stanza', onStanza);
  });
}

describe('XMPP across gateway nodes', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    const databaseUrl = await freshPostgresDatabase('xmppnodes');
    const env = (id: string) => ({
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      PARLEY_NODE_ID: id,
      PARLEY_NODE_TTL_MS: '2000',
      // The bulk test sends as fast as the client can; the per-session flood limit would end its stream.
      PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '100000',
    });
    a = new GatewayProcess({ env: env('node-a') });
    b = new GatewayProcess({ env: env('node-b') });
    await a.start();
    await b.start();
    for (const u of ['alice', 'bob', 'carol']) a.addUser(u, PASSWORD);
  }, 60_000);

  afterAll(async () => {
    for (const c of open) await c.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('users on different nodes become contacts and see each other come, change and go', async () => {
    const alice = await user(a, 'alice', 'desk');
    const bob = await user(b, 'bob', 'phone');
    await befriend(alice, 'alice@localhost', bob, 'bob@localhost');
    await bob.waitFor(isPresenceFrom('alice@localhost/desk'), 5000, 'alice’s presence');
    // Each node holds its own session and mirrors the other's.
    expect([await a.metric('xmpp_sessions'), await a.metric('xmpp_remote_sessions')]).toEqual([1, 1]);
    expect([await b.metric('xmpp_sessions'), await b.metric('xmpp_remote_sessions')]).toEqual([1, 1]);
    await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'at lunch')));
    const away = await bob.waitFor((s) => isPresenceFrom('alice@localhost/desk')(s) && s.getChildText('show') === 'away', 5000, 'away');
    expect(away.getChildText('status')).toBe('at lunch');
    // A contact who comes online later on the other node is told who is there (probe answered from the mirror).
    const carol = await user(b, 'carol', 'laptop');
    await befriend(alice, 'alice@localhost', carol, 'carol@localhost');
    const late = await user(b, 'bob', 'tablet');
    const seen = await late.waitFor(isPresenceFrom('alice@localhost/desk'), 5000, 'alice’s presence on a new session');
    expect(seen.getChildText('show')).toBe('away');
    await alice.stop();
    await bob.waitFor(isPresenceFrom('alice@localhost/desk', 'unavailable'), 5000, 'alice leaving');
    await Promise.all([late.stop(), carol.stop(), bob.stop()]);
  });

  it(`${MESSAGES} messages each way between nodes arrive, all of them, in order`, async () => {
    const alice = await user(a, 'alice', 'bulk');
    const bob = await user(b, 'bob', 'bulk');
    // Each sees the other's presence: each node has heard of the other's session.
    await bob.waitFor(isPresenceFrom('alice@localhost/bulk'), 5000, 'alice');
    await alice.waitFor(isPresenceFrom('bob@localhost/bulk'), 5000, 'bob');
    const toBob = collect(bob, 'alice@localhost/bulk', MESSAGES, 60_000);
    const toAlice = collect(alice, 'bob@localhost/bulk', MESSAGES, 60_000);
    for (let i = 0; i < MESSAGES; i++) {
      void alice.xmpp.send(chat('bob@localhost', `a${i}`));
      void bob.xmpp.send(chat('alice@localhost/bulk', `b${i}`));
    }
    const [gotBob, gotAlice] = await Promise.all([toBob, toAlice]);
    expect(gotBob).toEqual(Array.from({ length: MESSAGES }, (_, i) => `a${i}`));
    expect(gotAlice).toEqual(Array.from({ length: MESSAGES }, (_, i) => `b${i}`));
    await alice.stop();
    await bob.stop();
  }, 90_000);

  it('a device on the other node gets carbon copies of what its user sends and receives', async () => {
    const desk = await user(a, 'alice', 'carbon-desk');
    const phone = await user(b, 'alice', 'carbon-phone');
    await phone.iq(xml('iq', { type: 'set' }, xml('enable', { xmlns: 'urn:xmpp:carbons:2' })));
    const bob = await user(a, 'bob', 'carbon');
    await desk.xmpp.send(chat('bob@localhost/carbon', 'sent from the desk'));
    const sent = await phone.waitFor((s) => s.getChild('sent', 'urn:xmpp:carbons:2') !== undefined, 5000, 'a sent carbon');
    expect(sent.toString()).toContain('sent from the desk');
    await bob.xmpp.send(chat('alice@localhost/carbon-desk', 'to the desk'));
    const received = await phone.waitFor((s) => s.getChild('received', 'urn:xmpp:carbons:2') !== undefined, 5000, 'a received carbon');
    expect(received.toString()).toContain('to the desk');
    await Promise.all([desk.stop(), phone.stop(), bob.stop()]);
  });

  it('an iq to a full JID on the other node is answered by that client', async () => {
    const alice = await user(a, 'alice', 'iq');
    const bob = await user(b, 'bob', 'iq');
    (alice.xmpp as unknown as { iqCallee: { get(ns: string, name: string, h: () => Element): void } }).iqCallee.get('urn:xmpp:time', 'time', () =>
      xml('time', { xmlns: 'urn:xmpp:time' }, xml('utc', {}, '2026-12-03T10:00:00Z'), xml('tzo', {}, 'Z')),
    );
    const answer = await bob.iq(xml('iq', { type: 'get', to: 'alice@localhost/iq' }, xml('time', { xmlns: 'urn:xmpp:time' })));
    expect(answer.getChild('time')?.getChildText('utc')).toBe('2026-12-03T10:00:00Z');
    await alice.stop();
    // Gone: the server answers for her (on whichever node), not silence. (Sent by hand: an error
    // that comes back while xmpp.js's iqCaller is still sending counts as an unhandled rejection.)
    await bob.xmpp.send(xml('iq', { type: 'get', to: 'alice@localhost/iq', id: 'after-leaving' }, xml('time', { xmlns: 'urn:xmpp:time' })));
    const error = await bob.waitFor((s) => s.name === 'iq' && s.attrs.id === 'after-leaving', 5000, 'the answer for a gone session');
    expect(error.attrs.type).toBe('error');
    expect(error.getChild('error')?.getChild('service-unavailable')).toBeDefined();
    await bob.stop();
  });

  it('a group chat has occupants on both nodes: everyone sees everyone, messages and history reach all', async () => {
    const room = 'planning@conference.localhost';
    const alice = await user(a, 'alice', 'room');
    const bob = await user(b, 'bob', 'room');
    const carol = await user(b, 'carol', 'room');
    expect(statusCodes(await join(alice, room, 'Alice'))).toContain('201'); // created, on node A
    // A kept group chat, as the web app makes them (stored, so it outlives its node).
    await alice.iq(roomConfig(room, { persistentroom: '1', roomname: 'Planning' }));
    await alice.xmpp.send(groupchat(room, 'before you came'));
    await alice.waitFor(isGroupchat(room, 'Alice', 'before you came'), 5000, 'the echo');
    expect(statusCodes(await join(bob, room, 'Bob'))).not.toContain('201'); // the same room, from node B
    const history = await bob.waitFor(isGroupchat(room, 'Alice', 'before you came'), 5000, 'history');
    expect(history.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    await join(carol, room, 'Carol');
    await alice.waitFor((s) => s.name === 'presence' && s.attrs.from === `${room}/Carol`, 5000, 'Carol joining');
    await bob.xmpp.send(groupchat(room, 'hello from B'));
    for (const c of [alice, bob, carol]) await c.waitFor(isGroupchat(room, 'Bob', 'hello from B'), 5000, 'bob’s message');
    await carol.xmpp.send(xml('presence', { to: `${room}/Carol`, type: 'unavailable' }));
    await alice.waitFor((s) => s.attrs.from === `${room}/Carol` && s.attrs.type === 'unavailable', 5000, 'Carol leaving');
    await carol.stop();
    // bob stays in the room for the next test; alice's session on A dies with A.
  });

  it('kill -9 of a node: its users are unavailable everywhere else, and messages to them (even those in flight to it) wait offline', async () => {
    const alice = await user(a, 'alice', 'doomed');
    const bob = open.find((c) => c.jid === 'bob@localhost/room')!;
    await bob.waitFor(isPresenceFrom('alice@localhost/doomed'), 5000, 'alice');
    await a.stop('SIGKILL');
    // Sent before anyone knows A is dead: B still sees alice there and hands it to A's inbox,
    // which nobody reads any more — until B takes that inbox over.
    await bob.xmpp.send(chat('alice@localhost/doomed', 'in flight when your server died'));
    // The node's entry expires after its TTL (2 s here); the survivor then tells its users.
    await bob.waitFor(isPresenceFrom('alice@localhost/doomed', 'unavailable'), 10_000, 'alice shown unavailable');
    // The room lived on A: bob is told he is out (332) and joins again — now on B, with its history.
    const room = 'planning@conference.localhost';
    const out = await bob.waitFor((s) => s.attrs.from === `${room}/Bob` && s.attrs.type === 'unavailable', 5000, 'leaving the lost room');
    expect(statusCodes(out)).toContain('332');
    const rejoined = await join(bob, room, 'Bob');
    expect(statusCodes(rejoined)).not.toContain('201'); // the stored room, read again by B
    await bob.waitFor(isGroupchat(room, 'Bob', 'hello from B'), 5000, 'the room history, from the archive');
    await bob.xmpp.send(groupchat(room, 'still here'));
    await bob.waitFor(isGroupchat(room, 'Bob', 'still here'), 5000, 'the room working on B');

    await bob.xmpp.send(chat('alice@localhost', 'while you were away'));
    await new Promise((r) => setTimeout(r, 300));
    const back = await user(b, 'alice', 'back');
    const m = await back.waitFor(isMessageFrom('bob@localhost/room', 'while you were away'), 5000, 'the offline message');
    expect(m.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    await back.waitFor(isMessageFrom('bob@localhost/room', 'in flight when your server died'), 5000, 'the message A never read');
    await Promise.all([back.stop(), bob.stop()]);
  }, 30_000);
});
