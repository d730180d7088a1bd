/**
 * XEP-0198 stream management: the connection is cut in the middle of a conversation, xmpp.js
 * reconnects and resumes the stream, and every message arrives exactly once.
 */
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { befriend, connect, cutConnection, xml, type TestXmpp } from '../../../test-support/xmppClient.js';
import { StreamManagement } from './streamManagement.js';

let gw: TestGateway;
const open: TestXmpp[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_XMPP_RESUME_SECONDS: '30' });
  await gw.addUser('alice');
  await gw.addUser('bob');
});

afterAll(async () => {
  for (const c of open) await c.stop();
  await gw.stop();
});

const bodies = (c: TestXmpp, prefix: string) => c.inbox.filter((s: Element) => s.name === 'message' && s.getChildText('body')?.startsWith(prefix)).map((s) => s.getChildText('body'));

describe('stream management', () => {
  it('resumes a cut connection without losing or duplicating messages in either direction', async () => {
    const alice = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'mobile' });
    const bob = await connect(gw, 'bob', TEST_PASSWORD, { resource: 'desk' });
    open.push(alice, bob);
    await befriend(alice, 'alice@localhost', bob, 'bob@localhost');
    const session = gw.gateway.xmpp.localSession('alice@localhost/mobile')!;
    await expect.poll(() => session.smId).toBeTruthy();

    for (let i = 1; i <= 5; i++) await bob.xmpp.send(xml('message', { to: 'alice@localhost/mobile', type: 'chat' }, xml('body', {}, `to-alice ${i}`)));
    await expect.poll(() => bodies(alice, 'to-alice').length).toBe(5);

    // alice sends and, before any acknowledgement can come back, her connection dies (no
    // </stream>): the server keeps the session for resumption.
    const resumed = new Promise<void>((resolve) => (alice.xmpp as unknown as { streamManagement: { on(e: string, f: () => void): void } }).streamManagement.on('resumed', resolve));
    for (let i = 1; i <= 3; i++) await alice.xmpp.send(xml('message', { to: 'bob@localhost/desk', type: 'chat' }, xml('body', {}, `to-bob ${i}`)));
    cutConnection(alice);
    await expect.poll(() => session.state).toBe('hibernating');
    // Meanwhile bob keeps writing.
    for (let i = 6; i <= 10; i++) await bob.xmpp.send(xml('message', { to: 'alice@localhost/mobile', type: 'chat' }, xml('body', {}, `to-alice ${i}`)));

    await resumed;
    expect(gw.gateway.xmpp.localSession('alice@localhost/mobile')).toBe(session); // the same session, resumed
    await expect.poll(() => bodies(alice, 'to-alice').length, { timeout: 10_000 }).toBe(10);
    await expect.poll(() => bodies(bob, 'to-bob').length, { timeout: 10_000 }).toBe(3);
    // The resumed stream carries new messages too.
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/desk', type: 'chat' }, xml('body', {}, 'to-bob 4')));
    await expect.poll(() => bodies(bob, 'to-bob').length).toBe(4);
    await new Promise((r) => setTimeout(r, 500)); // late duplicates would show up by now
    expect(bodies(alice, 'to-alice')).toEqual(Array.from({ length: 10 }, (_, i) => `to-alice ${i + 1}`));
    expect(bodies(bob, 'to-bob')).toEqual(['to-bob 1', 'to-bob 2', 'to-bob 3', 'to-bob 4']);
  });

  it('moves messages nobody acknowledged to offline storage when the session is not resumed', async () => {
    const gw2 = await startTestGateway({ PARLEY_XMPP_RESUME_SECONDS: '1' });
    try {
      await gw2.addUser('alice');
      await gw2.addUser('bob');
      const alice = await connect(gw2, 'alice', TEST_PASSWORD, { resource: 'm' });
      const bob = await connect(gw2, 'bob', TEST_PASSWORD, { resource: 'd' });
      await befriend(alice, 'alice@localhost', bob, 'bob@localhost');
      const session = gw2.gateway.xmpp.localSession('alice@localhost/m')!;
      await expect.poll(() => session.smId).toBeTruthy();
      // Stop xmpp.js from reconnecting, then cut the socket.
      (alice.xmpp as unknown as { reconnect: { stop(): void } }).reconnect.stop();
      cutConnection(alice);
      await expect.poll(() => session.state).toBe('hibernating');
      await bob.xmpp.send(xml('message', { to: 'alice@localhost/m', type: 'chat' }, xml('body', {}, 'while you were away')));
      await expect.poll(() => session.state, { timeout: 5000 }).toBe('closed');
      const back = await connect(gw2, 'alice', TEST_PASSWORD, { resource: 'again' });
      const m = await back.waitFor((s) => s.getChildText('body') === 'while you were away');
      expect(m.getChild('delay', 'urn:xmpp:delay')).toBeTruthy();
      await back.stop();
      await bob.stop();
    } finally {
      await gw2.stop();
    }
  });
});

describe('StreamManagement counters', () => {
  it('acknowledges across the 2^32 wrap and refuses an h that acknowledges unsent stanzas', () => {
    const sm = new StreamManagement(true);
    sm.outbound = 2 ** 32 - 2;
    const s = xml('message');
    sm.sent(s);
    sm.sent(s);
    sm.sent(s); // counters: 2^32-1, 0, 1
    expect(sm.unackedCount).toBe(3);
    expect(sm.acknowledge(0)).toBe(true);
    expect(sm.unackedCount).toBe(1);
    expect(sm.acknowledge(5)).toBe(false);
  });
});
