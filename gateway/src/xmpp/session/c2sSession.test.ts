/**
 * Client sessions over real sockets: SASL SCRAM-SHA-256/SHA-1 and PLAIN over TCP (with and
 * without STARTTLS) and WebSocket, with xmpp.js as an independent client implementation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawXmpp } from '../../../test-support/rawXmpp.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, xml } from '../../../test-support/xmppClient.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_XMPP_MAX_SESSIONS_PER_USER: '3' });
  for (const u of ['alice', 'bob', 'carol']) await gw.addUser(u);
});

afterAll(async () => {
  await gw.stop();
});

describe('XMPP sign-in', () => {
  it('xmpp.js signs in with SCRAM-SHA-1 over TCP (after STARTTLS) and over WebSocket', async () => {
    const tcp = await connect(gw, 'alice', TEST_PASSWORD, { transport: 'tcp', resource: 'laptop' });
    expect(tcp.jid).toBe('alice@localhost/laptop');
    expect(gw.gateway.xmpp.localSession('alice@localhost/laptop')?.transport.secure).toBe(true); // STARTTLS happened
    const ws = await connect(gw, 'alice', TEST_PASSWORD, { transport: 'ws', resource: 'browser' });
    expect(ws.jid).toBe('alice@localhost/browser');
    // Both are live: a ping to each other's full JID is routed.
    const pong = await tcp.iq(xml('iq', { type: 'get', to: 'localhost', id: 'p1' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(pong.attrs.type).toBe('result');
    await tcp.stop();
    await ws.stop();
  });

  it('offers SCRAM-SHA-256, SCRAM-SHA-1 and (on loopback) PLAIN, and SCRAM-SHA-256 works', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.openStream();
    const features = await raw.waitFor(/<stream:features>(.*?)<\/stream:features>/);
    expect(features[1]).toContain('<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>');
    expect(features[1]).toMatch(/<mechanism>SCRAM-SHA-256<\/mechanism><mechanism>SCRAM-SHA-1<\/mechanism><mechanism>PLAIN<\/mechanism>/);
    expect(await raw.scram('sha256', 'bob', TEST_PASSWORD)).toBe('success');
    // After SASL the stream restarts and offers bind and stream management.
    const mark = raw.received.length;
    raw.openStream();
    const after = await raw.waitFor(/<stream:features>(.*?)<\/stream:features>/, 5000, mark);
    expect(after[1]).toContain('<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/>');
    expect(after[1]).toContain('<sm xmlns="urn:xmpp:sm:3"/>');
    raw.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>`);
    await raw.waitFor(/<jid>bob@localhost\/raw<\/jid>/);
    raw.destroy();
  });

  it('refuses a wrong password with <not-authorized/> and cuts off after three tries', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.openStream();
    await raw.waitFor(/<\/stream:features>/);
    for (let i = 0; i < 3; i++) expect(await raw.scram('sha256', 'carol', `wrong-${i}`)).toBe('failure');
    await raw.waitFor(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await raw.waitClosed();
  });

  it('PLAIN works on loopback; SCRAM-SHA-1 with the account password works too', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.openStream();
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\u0000carol\u0000${TEST_PASSWORD}`).toString('base64')}</auth>`);
    await raw.waitFor(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/);
    raw.destroy();
    const raw2 = await RawXmpp.open(gw.xmppPort);
    raw2.openStream();
    await raw2.waitFor(/<\/stream:features>/);
    expect(await raw2.scram('sha1', 'carol', TEST_PASSWORD)).toBe('success');
    raw2.destroy();
  });

  it('accepts the credential of a web session (as the browser client uses) and forgets it at sign-out', async () => {
    const login = await fetch(`${gw.url}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: TEST_PASSWORD }) });
    const { xmpp } = await login.json();
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.openStream();
    await raw.waitFor(/<\/stream:features>/);
    expect(await raw.scram('sha256', 'carol', xmpp.password)).toBe('success');
    raw.destroy();
    await fetch(`${gw.url}/api/logout`, { method: 'POST', headers: { cookie } });
    const raw2 = await RawXmpp.open(gw.xmppPort);
    raw2.openStream();
    await raw2.waitFor(/<\/stream:features>/);
    expect(await raw2.scram('sha256', 'carol', xmpp.password)).toBe('failure');
    raw2.destroy();
  });

  it('limits connections per user (PARLEY_XMPP_MAX_SESSIONS_PER_USER) with resource-constraint', async () => {
    const a = await Promise.all([1, 2, 3].map((i) => connect(gw, 'bob', TEST_PASSWORD, { resource: `d${i}`, presence: false })));
    await expect(connect(gw, 'bob', TEST_PASSWORD, { resource: 'd4', presence: false })).rejects.toThrow(/resource-constraint|connections per user/);
    await Promise.all(a.map((c) => c.stop()));
  });

  it('a second connection with the same resource replaces the first (conflict)', async () => {
    const first = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'same' });
    const closed = new Promise<string>((resolve) => first.xmpp.on('error', (e: Error) => resolve(e.message)));
    const second = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'same' });
    expect(await closed).toMatch(/conflict/);
    await second.stop();
    await first.stop();
  });
});
