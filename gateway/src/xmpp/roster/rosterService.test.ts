/** Rosters, the subscription state machine and presence, between xmpp.js clients. */
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, isPresenceFrom, xml, type TestXmpp } from '../../../test-support/xmppClient.js';

let gw: TestGateway;
const open: TestXmpp[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']) await gw.addUser(u);
  await gw.addUser('ivan', undefined, 'Ivan Petrov');
});

afterAll(async () => {
  for (const c of open) await c.stop();
  await gw.stop();
});

async function user(name: string, transport: 'tcp' | 'ws' = 'tcp', resource?: string) {
  const c = await connect(gw, name, TEST_PASSWORD, { transport, resource });
  open.push(c);
  return c;
}

async function rosterOf(c: TestXmpp): Promise<Record<string, string>> {
  const res = await c.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })));
  const items = (res.getChild('query')?.getChildren('item') ?? []) as Element[];
  return Object.fromEntries(items.map((i) => [i.attrs.jid, `${i.attrs.subscription}${i.attrs.ask ? '+ask' : ''}`]));
}

const push = (jid: string, sub: string) => (s: Element) =>
  s.name === 'iq' && s.attrs.type === 'set' && s.getChild('query')?.getChild('item')?.attrs.jid === jid && s.getChild('query')?.getChild('item')?.attrs.subscription === sub;

describe('subscriptions (RFC 6121 §3)', () => {
  it('walks none → pending → to/from → both, with roster pushes and presence following', async () => {
    const alice = await user('alice');
    const bob = await user('bob', 'ws');
    await alice.xmpp.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
    await alice.waitFor((s) => push('bob@localhost', 'none')(s) && s.getChild('query')!.getChild('item')!.attrs.ask === 'subscribe');
    const request = await bob.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
    expect(request.attrs.from).toBe('alice@localhost');
    expect(await rosterOf(alice)).toEqual({ 'bob@localhost': 'none+ask' });
    // A pending-in request is not a roster item yet.
    expect(await rosterOf(bob)).toEqual({});

    await bob.xmpp.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await alice.waitFor(push('bob@localhost', 'to'));
    await bob.waitFor(push('alice@localhost', 'from'));
    // alice now sees bob's presence …
    await alice.waitFor(isPresenceFrom('bob@localhost/', undefined));
    // … but bob does not see alice's: he has not asked.
    await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
    await expect(bob.waitFor(isPresenceFrom('alice@localhost/', undefined), 500)).rejects.toThrow(/timed out/);

    await bob.xmpp.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await alice.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
    await alice.xmpp.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }));
    await alice.waitFor(push('bob@localhost', 'both'));
    await bob.waitFor(push('alice@localhost', 'both'));
    const seen = await bob.waitFor(isPresenceFrom('alice@localhost/', undefined));
    expect(seen.getChildText('show')).toBe('away');
    expect(await rosterOf(alice)).toEqual({ 'bob@localhost': 'both' });
    expect(await rosterOf(bob)).toEqual({ 'alice@localhost': 'both' });
  });

  it('a denied request leaves both sides at none, and nobody sees presence they were not granted', async () => {
    const carol = await user('carol');
    const dave = await user('dave');
    await carol.xmpp.send(xml('presence', { to: 'dave@localhost', type: 'subscribe' }));
    await dave.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
    await dave.xmpp.send(xml('presence', { to: 'carol@localhost', type: 'unsubscribed' }));
    await carol.waitFor((s) => s.name === 'presence' && s.attrs.type === 'unsubscribed');
    expect(await rosterOf(carol)).toEqual({ 'dave@localhost': 'none' });
    await dave.xmpp.send(xml('presence', {}, xml('status', {}, 'secret plans')));
    await expect(carol.waitFor(isPresenceFrom('dave@localhost/', undefined), 500)).rejects.toThrow(/timed out/);
  });

  it('a request made while the contact is offline is delivered when they sign in', async () => {
    const erin = await user('erin');
    await erin.xmpp.send(xml('presence', { to: 'frank@localhost', type: 'subscribe' }));
    await erin.waitFor(push('frank@localhost', 'none'));
    const frank = await user('frank');
    const req = await frank.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
    expect(req.attrs.from).toBe('erin@localhost');
  });

  it("a request says who asks (XEP-0172 nick): the client's own nick, else the asker's display name, live and when re-sent at sign-in", async () => {
    const ivan = await user('ivan');
    const grace = await user('grace');
    const nickOf = (s: Element) => s.getChild('nick', 'http://jabber.org/protocol/nick')?.getText();
    await ivan.xmpp.send(xml('presence', { to: 'grace@localhost', type: 'subscribe' }));
    expect(nickOf(await grace.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe'))).toBe('Ivan Petrov');
    await grace.xmpp.send(xml('presence', { to: 'ivan@localhost', type: 'subscribe' }, xml('nick', { xmlns: 'http://jabber.org/protocol/nick' }, 'Gracie')));
    expect(nickOf(await ivan.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe'))).toBe('Gracie');
    // heidi is offline: the stored request is sent when she signs in, with ivan's name.
    await ivan.xmpp.send(xml('presence', { to: 'heidi@localhost', type: 'subscribe' }));
    await ivan.waitFor(push('heidi@localhost', 'none'));
    const heidi = await user('heidi');
    const stored = await heidi.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
    expect([stored.attrs.from, nickOf(stored)]).toEqual(['ivan@localhost', 'Ivan Petrov']);
  });

  it('presence goes to contacts on login, leaves with unavailable on disconnect, and directed presence is revoked', async () => {
    const alice = await user('alice', 'tcp', 'phone');
    const bob = await user('bob', 'ws', 'desk');
    void bob; // alice and bob are mutual contacts since the first test
    const bob2 = await user('bob', 'tcp', 'tablet');
    await alice.waitFor(isPresenceFrom('bob@localhost/tablet', undefined));
    await bob2.stop();
    await alice.waitFor(isPresenceFrom('bob@localhost/tablet', 'unavailable'));
    // Directed presence to someone without a subscription, revoked when the session ends.
    const carol = await user('carol', 'tcp', 'x');
    const dave = await user('dave', 'tcp', 'y');
    await carol.xmpp.send(xml('presence', { to: 'dave@localhost/y' }));
    await dave.waitFor(isPresenceFrom('carol@localhost/x', undefined));
    await carol.stop();
    await dave.waitFor(isPresenceFrom('carol@localhost/x', 'unavailable'));
  });

  it('shows "in a call" while the SIP side reports a call, then restores the presence', async () => {
    const alice = await user('alice', 'tcp', 'caller');
    await alice.xmpp.send(xml('presence', {}, xml('status', {}, 'writing docs')));
    const bob = await user('bob', 'tcp', 'watcher');
    await bob.waitFor((s) => isPresenceFrom('alice@localhost/caller', undefined)(s) && s.getChildText('status') === 'writing docs');
    gw.gateway.xmpp.setInCall('alice', true);
    const busy = await bob.waitFor((s) => isPresenceFrom('alice@localhost/caller', undefined)(s) && s.getChildText('show') === 'dnd');
    expect(busy.getChildText('status')).toBe('In a call · writing docs');
    expect(busy.getChild('call', 'urn:parley:call:0')).toBeTruthy();
    gw.gateway.xmpp.setInCall('alice', false);
    const back = await bob.waitFor((s) => isPresenceFrom('alice@localhost/caller', undefined)(s) && s.getChildText('show') === null);
    expect(back.getChildText('status')).toBe('writing docs');
  });

  it('removing a contact cancels the subscription both ways', async () => {
    const alice = await user('alice', 'tcp', 'remover');
    const bob = await user('bob', 'tcp', 'removed');
    await alice.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'bob@localhost', subscription: 'remove' }))));
    await alice.waitFor(push('bob@localhost', 'remove'));
    await bob.waitFor(push('alice@localhost', 'none'));
    expect(await rosterOf(bob)).toEqual({ 'alice@localhost': 'none' });
  });
});
