/** vCards (XEP-0054), service discovery and ping, as a client uses them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, xml } from '../../../test-support/xmppClient.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.addUser('alice');
  await gw.addUser('bob');
});

afterAll(async () => {
  await gw.stop();
});

describe('vCard, disco, ping', () => {
  it('stores a vCard with a photo, and others can read it', async () => {
    const alice = await connect(gw, 'alice', TEST_PASSWORD);
    const photo = Buffer.from('not really a png').toString('base64');
    await alice.iq(xml('iq', { type: 'set' }, xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, 'Alice Liddell'), xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, photo)))));
    const bob = await connect(gw, 'bob', TEST_PASSWORD);
    const card = await bob.iq(xml('iq', { type: 'get', to: 'alice@localhost' }, xml('vCard', { xmlns: 'vcard-temp' })));
    expect(card.getChild('vCard')!.getChildText('FN')).toBe('Alice Liddell');
    expect(await gw.gateway.xmpp.vcards.photoHash('alice@localhost')).toMatch(/^[0-9a-f]{40}$/);
    // Nobody writes somebody else's card.
    await expect(bob.iq(xml('iq', { type: 'set', to: 'alice@localhost' }, xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, 'Hacked'))))).rejects.toThrow();
    await alice.stop();
    await bob.stop();
  });

  it('describes the server and answers pings; unknown queries get service-unavailable', async () => {
    const alice = await connect(gw, 'alice', TEST_PASSWORD);
    const info = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    const features = info.getChild('query')!.getChildren('feature').map((f) => String(f.attrs.var));
    expect(features).toEqual(expect.arrayContaining(['urn:xmpp:mam:2', 'urn:xmpp:carbons:2', 'urn:xmpp:ping', 'vcard-temp']));
    expect((await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))).attrs.type).toBe('result');
    await expect(alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'urn:example:unknown' })))).rejects.toThrow(/service-unavailable/);
    await alice.stop();
  });
});
