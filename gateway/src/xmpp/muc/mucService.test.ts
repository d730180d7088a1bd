/** Group chat (XEP-0045) between xmpp.js clients. */
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, roomConfig, xml, type TestXmpp } from '../../../test-support/xmppClient.js';

let gw: TestGateway;
const open: TestXmpp[] = [];
const MUC = 'conference.localhost';

beforeAll(async () => {
  gw = await startTestGateway();
  for (const u of ['alice', 'bob', 'carol', 'dave']) await gw.addUser(u);
});

afterAll(async () => {
  for (const c of open) await c.stop();
  await gw.stop();
});

async function user(name: string, resource = 'muc') {
  const c = await connect(gw, name, TEST_PASSWORD, { resource });
  open.push(c);
  return c;
}

const selfPresence = (room: string, nick: string) => (s: Element) =>
  s.name === 'presence' && s.attrs.from === `${room}/${nick}` && (s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChildren('status') ?? []).some((st: Element) => st.attrs.code === '110');

async function join(c: TestXmpp, room: string, nick: string, history?: number): Promise<Element> {
  const x = xml('x', { xmlns: 'http://jabber.org/protocol/muc' });
  if (history !== undefined) x.cnode(xml('history', { maxstanzas: String(history) }));
  await c.xmpp.send(xml('presence', { to: `${room}/${nick}` }, x));
  return c.waitFor((s) => selfPresence(room, nick)(s) || (s.name === 'presence' && s.attrs.type === 'error'), 5000, `joining ${room}`);
}

const groupchat = (room: string, body: string) => xml('message', { to: room, type: 'groupchat' }, xml('body', {}, body));
const fromRoom = (room: string, nick: string, body: string) => (s: Element) => s.name === 'message' && s.attrs.from === `${room}/${nick}` && s.getChildText('body') === body;
const codes = (s: Element) => (s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChildren('status') ?? []).map((x: Element) => x.attrs.code);

describe('group chat', () => {
  it('three people create, join and talk in a room; everyone sees who is there', async () => {
    const room = `team@${MUC}`;
    const alice = await user('alice');
    const created = await join(alice, room, 'Alice');
    expect(codes(created)).toEqual(expect.arrayContaining(['110', '201']));
    const bob = await user('bob');
    const carol = await user('carol');
    await join(bob, room, 'Bob');
    await join(carol, room, 'Carol');
    // carol learned who was already there, with real JIDs (non-anonymous room).
    const aliceSeen = carol.inbox.find((s) => s.name === 'presence' && s.attrs.from === `${room}/Alice`)!;
    expect(aliceSeen.getChild('x', 'http://jabber.org/protocol/muc#user')!.getChild('item')!.attrs).toMatchObject({ affiliation: 'owner', role: 'moderator', jid: 'alice@localhost/muc' });
    await alice.waitFor((s) => s.name === 'presence' && s.attrs.from === `${room}/Carol`);

    await bob.xmpp.send(groupchat(room, 'hello team'));
    for (const c of [alice, bob, carol]) {
      const m = await c.waitFor(fromRoom(room, 'Bob', 'hello team'));
      expect(m.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.by).toBe(room);
    }
    // Leaving is seen by the others.
    await carol.xmpp.send(xml('presence', { to: `${room}/Carol`, type: 'unavailable' }));
    await alice.waitFor((s) => s.name === 'presence' && s.attrs.from === `${room}/Carol` && s.attrs.type === 'unavailable');
  });

  it('someone who joins later gets the recent history with delay stamps, then the subject', async () => {
    const room = `history@${MUC}`;
    const alice = await user('alice', 'h');
    await join(alice, room, 'Alice');
    await alice.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'Release planning')));
    for (let i = 1; i <= 3; i++) await alice.xmpp.send(groupchat(room, `earlier ${i}`));
    await alice.waitFor(fromRoom(room, 'Alice', 'earlier 3'));
    const dave = await user('dave', 'h');
    await join(dave, room, 'Dave');
    const history: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const m = await dave.waitFor((s) => s.name === 'message' && s.getChildText('body')?.startsWith('earlier') === true);
      expect(m.getChild('delay', 'urn:xmpp:delay')).toBeTruthy();
      history.push(m.getChildText('body')!);
    }
    expect(history).toEqual(['earlier 1', 'earlier 2', 'earlier 3']);
    const subject = await dave.waitFor((s) => s.name === 'message' && s.getChild('subject') !== undefined);
    expect(subject.getChildText('subject')).toBe('Release planning');
  });

  it('a members-only room needs an invitation; an invitation reaches the invitee even offline', async () => {
    const room = `private@${MUC}`;
    const alice = await user('alice', 'p');
    await join(alice, room, 'Alice');
    await alice.iq(roomConfig(room, { membersonly: '1', persistentroom: '1', publicroom: '0', roomname: 'Private' }));
    const bob = await user('bob', 'p');
    const refused = await join(bob, room, 'Bob');
    expect(refused.attrs.type).toBe('error');
    expect(refused.getChild('error')!.getChild('registration-required')).toBeTruthy();

    // Invite bob (online) and carol (offline).
    for (const c of open.filter((x) => x.jid.startsWith('carol@'))) await c.stop();
    await alice.xmpp.send(xml('message', { to: room }, xml('x', { xmlns: 'http://jabber.org/protocol/muc#user' }, xml('invite', { to: 'bob@localhost' }, xml('reason', {}, 'join us')), xml('invite', { to: 'carol@localhost' }))));
    const invite = await bob.waitFor((s) => s.name === 'message' && s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('invite') !== undefined);
    expect(invite.attrs.from).toBe(room);
    expect(invite.getChild('x', 'http://jabber.org/protocol/muc#user')!.getChild('invite')!.attrs.from).toBe('alice@localhost');
    expect(codes(await join(bob, room, 'Bob'))).toContain('110');
    const carol = await user('carol', 'later');
    await carol.waitFor((s) => s.name === 'message' && s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('invite') !== undefined);
    expect(codes(await join(carol, room, 'Carol'))).toContain('110');
  });

  it('a moderator can kick; the kicked person is told (307) and the room too', async () => {
    const room = `kick@${MUC}`;
    const alice = await user('alice', 'k');
    await join(alice, room, 'Alice');
    const dave = await user('dave', 'k');
    await join(dave, room, 'Dave');
    // dave is not a moderator: he cannot kick.
    await expect(dave.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { nick: 'Alice', role: 'none' }))))).rejects.toThrow(/forbidden/);
    await alice.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { nick: 'Dave', role: 'none' }, xml('reason', {}, 'off topic')))));
    const kicked = await dave.waitFor((s) => s.name === 'presence' && s.attrs.type === 'unavailable' && codes(s).includes('307'));
    expect(codes(kicked)).toContain('110');
    await alice.waitFor((s) => s.name === 'presence' && s.attrs.from === `${room}/Dave` && codes(s).includes('307'));
    // Messages from someone no longer in the room are refused.
    await dave.xmpp.send(groupchat(room, 'still here?'));
    await dave.waitFor((s) => s.name === 'message' && s.attrs.type === 'error');
  });

  it('lists public rooms and describes a room; a persistent room keeps its archive (MAM)', async () => {
    const alice = await user('alice', 'd');
    const items = await alice.iq(xml('iq', { type: 'get', to: MUC }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
    const jids = items.getChild('query')!.getChildren('item').map((i: Element) => i.attrs.jid);
    expect(jids).toContain(`team@${MUC}`);
    expect(jids).not.toContain(`private@${MUC}`); // configured as not listed
    const info = await alice.iq(xml('iq', { type: 'get', to: `private@${MUC}` }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    const features = info.getChild('query')!.getChildren('feature').map((f: Element) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining(['muc_membersonly', 'muc_persistent', 'urn:xmpp:mam:2']));

    await join(alice, `private@${MUC}`, 'Alice');
    await alice.xmpp.send(groupchat(`private@${MUC}`, 'kept for later'));
    await alice.waitFor(fromRoom(`private@${MUC}`, 'Alice', 'kept for later'));
    // After a server restart the persistent room, its members and its history are still there.
    for (const c of open.splice(0)) await c.stop();
    const stored = gw.storageEnv;
    await gw.stop({ keepData: true });
    gw = await startTestGateway(stored);
    const bob = await user('bob', 'after-restart');
    expect(codes(await join(bob, `private@${MUC}`, 'Bob'))).toContain('110'); // still a member
    await bob.waitFor((s) => s.name === 'message' && s.getChildText('body') === 'kept for later' && s.getChild('delay', 'urn:xmpp:delay') !== undefined);
    const fin = await bob.iq(xml('iq', { type: 'set', to: `private@${MUC}` }, xml('query', { xmlns: 'urn:xmpp:mam:2', queryid: 'r1' })));
    expect(Number(fin.getChild('fin')!.getChild('set')!.getChildText('count'))).toBeGreaterThanOrEqual(1);
    const dave = await user('dave', 'after-restart');
    expect((await join(dave, `private@${MUC}`, 'Dave')).attrs.type).toBe('error'); // not a member
  });
});
