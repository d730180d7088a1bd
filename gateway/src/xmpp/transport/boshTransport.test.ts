/** XMPP over BOSH (XEP-0124/0206) with hand-made HTTP requests, talking to a TCP user. */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { befriend, connect, isMessageFrom, xml } from '../../../test-support/xmppClient.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_XMPP_BOSH_ORIGINS: 'https://portal.example.edu' });
  await gw.addUser('alice');
  await gw.addUser('bob');
  const a = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'setup' });
  const b = await connect(gw, 'bob', TEST_PASSWORD, { resource: 'setup' });
  await befriend(a, 'alice@localhost', b, 'bob@localhost');
  await a.stop();
  await b.stop();
});

afterAll(async () => {
  await gw.stop();
});

class Bosh {
  rid = crypto.randomInt(1_000_000, 2_000_000);
  sid = '';
  constructor(private readonly url: string) {}
  async post(inner = '', attrs: Record<string, string> = {}): Promise<string> {
    const a = { rid: String(this.rid++), xmlns: 'http://jabber.org/protocol/httpbind', ...(this.sid ? { sid: this.sid } : {}), ...attrs };
    const body = `<body ${Object.entries(a).map(([k, v]) => `${k}='${v}'`).join(' ')}>${inner}</body>`;
    const res = await fetch(this.url, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body });
    return res.text();
  }
}

describe('BOSH', () => {
  it('creates a session, authenticates, binds, and exchanges messages by long-polling', async () => {
    const bosh = new Bosh(`${gw.url}/http-bind`);
    const created = await bosh.post('', { to: 'localhost', wait: '10', hold: '1', 'xmpp:version': '1.0', 'xmlns:xmpp': 'urn:xmpp:xbosh', content: 'text/xml; charset=utf-8' });
    bosh.sid = /sid='([^']+)'/.exec(created)![1];
    expect(created).toMatch(/requests='2'/);
    expect(created).toContain('<mechanism>SCRAM-SHA-256</mechanism>');
    const auth = await bosh.post(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\u0000bob\u0000${TEST_PASSWORD}`).toString('base64')}</auth>`);
    expect(auth).toContain('<success');
    const restarted = await bosh.post('', { 'xmpp:restart': 'true', 'xmlns:xmpp': 'urn:xmpp:xbosh', to: 'localhost' });
    expect(restarted).toContain('urn:ietf:params:xml:ns:xmpp-bind');
    const bound = await bosh.post(`<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bosh</resource></bind></iq>`);
    expect(bound).toContain('<jid>bob@localhost/bosh</jid>');
    await bosh.post(`<presence xmlns='jabber:client'/>`);

    // A long-poll waits; alice's message (over TCP) releases it.
    const alice = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'tcp' });
    const poll = bosh.post();
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/bosh', type: 'chat' }, xml('body', {}, 'over bosh')));
    let got = await poll;
    for (let i = 0; i < 5 && !got.includes('over bosh'); i++) got = await bosh.post();
    expect(got).toContain('over bosh');

    // Like a real client, keep a request open while sending the next (requests='2').
    const held = bosh.post(`<message xmlns='jabber:client' to='alice@localhost/tcp' type='chat'><body>back from bosh</body></message>`);
    await alice.waitFor(isMessageFrom('bob@localhost/bosh', 'back from bosh'));
    const end = await bosh.post(`<presence xmlns='jabber:client' type='unavailable'/>`, { type: 'terminate' });
    await held;
    expect(end).toMatch(/type=.terminate./);
    await expect.poll(() => gw.gateway.xmpp.sessionByJid('bob@localhost/bosh')).toBeUndefined();
    await alice.stop();
  });

  it('answers an unknown session id with item-not-found, and a non-BOSH body with bad-request', async () => {
    const bad = new Bosh(`${gw.url}/http-bind`);
    bad.sid = 'nope';
    expect(await bad.post()).toMatch(/condition="item-not-found"/);
    const res = await fetch(`${gw.url}/http-bind`, { method: 'POST', body: '<not-a-body/>' });
    expect(res.status).toBe(400);
  });

  it('answers CORS for the origins the operator allows, and nothing for other sites', async () => {
    const preflight = (origin: string) =>
      fetch(`${gw.url}/http-bind`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
      });
    const ok = await preflight('https://portal.example.edu');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://portal.example.edu');
    expect(ok.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/content-type/);
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    const other = await preflight('https://evil.example.net');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const body = `<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='1' hold='1' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`;
    const post = (origin: string) => fetch(`${gw.url}/http-bind`, { method: 'POST', headers: { Origin: origin, 'Content-Type': 'text/xml' }, body });
    const allowed = await post('https://portal.example.edu');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://portal.example.edu');
    expect(allowed.headers.get('vary')).toMatch(/Origin/);
    expect(await allowed.text()).toMatch(/sid=/);
    expect((await post('https://evil.example.net')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a body that is not UTF-8 with bad-request', async () => {
    const body = Buffer.concat([Buffer.from(`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost'>`), Buffer.from([0xc3, 0x28]), Buffer.from('</body>')]);
    const res = await fetch(`${gw.url}/http-bind`, { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/condition=['"]bad-request['"]/);
  });
});
