/** One-to-one messages: delivery rules, offline storage, the archive (MAM), carbons, policy. */
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { befriend, connect, isMessageFrom, xml, type TestXmpp } from '../../../test-support/xmppClient.js';

let gw: TestGateway;
const open: TestXmpp[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  for (const u of ['alice', 'bob', 'carol', 'mallory']) await gw.addUser(u);
  // alice, bob and carol know each other; mallory knows nobody.
  const a = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'setup' });
  const b = await connect(gw, 'bob', TEST_PASSWORD, { resource: 'setup' });
  const c = await connect(gw, 'carol', TEST_PASSWORD, { resource: 'setup' });
  await befriend(a, 'alice@localhost', b, 'bob@localhost');
  await befriend(a, 'alice@localhost', c, 'carol@localhost');
  for (const x of [a, b, c]) await x.stop();
});

afterAll(async () => {
  for (const c of open) await c.stop();
  await gw.stop();
});

async function user(name: string, resource: string, transport: 'tcp' | 'ws' = 'tcp') {
  const c = await connect(gw, name, TEST_PASSWORD, { transport, resource });
  open.push(c);
  return c;
}

const chat = (to: string, body: string, id?: string) => xml('message', { to, type: 'chat', id }, xml('body', {}, body));

describe('messages', () => {
  it('to a bare JID reach every available resource; to a full JID only that one', async () => {
    const alice = await user('alice', 'a');
    const bob1 = await user('bob', 'one');
    const bob2 = await user('bob', 'two', 'ws');
    await alice.xmpp.send(chat('bob@localhost', 'to both'));
    await bob1.waitFor(isMessageFrom('alice@localhost/a', 'to both'));
    await bob2.waitFor(isMessageFrom('alice@localhost/a', 'to both'));
    await alice.xmpp.send(chat('bob@localhost/two', 'only two'));
    await bob2.waitFor(isMessageFrom('alice@localhost/a', 'only two'));
    await expect(bob1.waitFor(isMessageFrom('alice@localhost/a', 'only two'), 400)).rejects.toThrow(/timed out/);
    // The delivered copy carries the recipient's archive id (XEP-0359).
    await alice.xmpp.send(chat('bob@localhost/one', 'with id'));
    const m = await bob1.waitFor(isMessageFrom('alice@localhost/a', 'with id'));
    expect(m.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.by).toBe('bob@localhost');
    await Promise.all([alice.stop(), bob1.stop(), bob2.stop()]);
  });

  it('keeps messages for an offline user and delivers them, in order, at sign-in', async () => {
    const alice = await user('alice', 'sender');
    for (let i = 1; i <= 5; i++) await alice.xmpp.send(chat('carol@localhost', `offline ${i}`));
    await new Promise((r) => setTimeout(r, 200));
    const carol = await user('carol', 'back');
    const got: string[] = [];
    for (let i = 1; i <= 5; i++) got.push((await carol.waitFor(isMessageFrom('alice@localhost/sender'))).getChildText('body')!);
    expect(got).toEqual(['offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5']);
    // Delivered once: signing in again brings nothing new.
    await carol.stop();
    const again = await user('carol', 'again');
    await expect(again.waitFor(isMessageFrom('alice@localhost/sender'), 500)).rejects.toThrow(/timed out/);
  });

  it('pages through the archive (MAM with RSM) backwards, as a client scrolling history does', async () => {
    const alice = await user('alice', 'historian');
    for (let i = 1; i <= 23; i++) await alice.xmpp.send(chat('bob@localhost', `history ${i}`));
    await new Promise((r) => setTimeout(r, 200));
    const bodies: string[] = [];
    let before = '';
    for (let page = 0; page < 5; page++) {
      const queryid = `q${page}`;
      const res = alice.iq(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'query',
            { xmlns: 'urn:xmpp:mam:2', queryid },
            xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, 'urn:xmpp:mam:2')), xml('field', { var: 'with' }, xml('value', {}, 'bob@localhost'))),
            xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '10'), xml('before', {}, before)),
          ),
        ),
      );
      const fin = (await res).getChild('fin', 'urn:xmpp:mam:2')!;
      const results: Element[] = [];
      let r: Element | undefined;
      while ((r = alice.inbox.find((s) => s.getChild('result', 'urn:xmpp:mam:2')?.attrs.queryid === queryid))) {
        alice.inbox.splice(alice.inbox.indexOf(r), 1);
        results.push(r);
      }
      const pageBodies = results.map((x) => x.getChild('result')!.getChild('forwarded')!.getChild('message')!.getChildText('body')!).filter((b) => b.startsWith('history'));
      bodies.unshift(...pageBodies);
      if (fin.attrs.complete === 'true') break;
      before = fin.getChild('set')!.getChildText('first')!;
    }
    expect(bodies.filter((b) => b.startsWith('history'))).toEqual(Array.from({ length: 23 }, (_, i) => `history ${i + 1}`));
  });

  it('copies messages to the user’s other devices with carbons (XEP-0280)', async () => {
    const aliceDesk = await user('alice', 'desk');
    const alicePhone = await user('alice', 'phone');
    await alicePhone.iq(xml('iq', { type: 'set' }, xml('enable', { xmlns: 'urn:xmpp:carbons:2' })));
    const bob = await user('bob', 'carbon');
    await aliceDesk.xmpp.send(chat('bob@localhost/carbon', 'sent from desk'));
    const sent = await alicePhone.waitFor((s) => s.getChild('sent', 'urn:xmpp:carbons:2') !== undefined);
    expect(sent.getChild('sent')!.getChild('forwarded')!.getChild('message')!.getChildText('body')).toBe('sent from desk');
    await bob.xmpp.send(chat('alice@localhost/desk', 'reply to desk'));
    const received = await alicePhone.waitFor((s) => s.getChild('received', 'urn:xmpp:carbons:2') !== undefined);
    expect(received.getChild('received')!.getChild('forwarded')!.getChild('message')!.getChildText('body')).toBe('reply to desk');
  });

  it('passes chat states and receipts through', async () => {
    const alice = await user('alice', 'states');
    const bob = await user('bob', 'states');
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/states', type: 'chat' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await bob.waitFor((s) => s.getChild('composing', 'http://jabber.org/protocol/chatstates') !== undefined);
    await bob.xmpp.send(xml('message', { to: 'alice@localhost/states', type: 'chat' }, xml('received', { xmlns: 'urn:xmpp:receipts', id: 'm1' })));
    await alice.waitFor((s) => s.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'm1');
  });

  it('refuses a message to someone who has not accepted the sender, with a clear error', async () => {
    const mallory = await user('mallory', 'spam');
    await mallory.xmpp.send(chat('bob@localhost', 'buy now', 'spam1'));
    const err = await mallory.waitFor((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.id === 'spam1');
    expect(err.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeTruthy();
    expect(err.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toMatch(/has not accepted you as a contact/);
    await mallory.xmpp.send(chat('nobody@localhost', 'hello?', 'nouser'));
    const err2 = await mallory.waitFor((s) => s.attrs.type === 'error' && s.attrs.id === 'nouser');
    expect(err2.getChild('error')!.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeTruthy();
    await mallory.xmpp.send(chat('someone@elsewhere.example', 'hi', 'remote'));
    const err3 = await mallory.waitFor((s) => s.attrs.type === 'error' && s.attrs.id === 'remote');
    expect(err3.getChild('error')!.getChild('remote-server-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeTruthy();
  });
});
