/**
 * Hostile XMPP input against the gateway running as its own process: each gets the stream or
 * stanza error RFC 6120 asks for, and the server keeps serving everybody else.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GatewayProcess } from '../../../test-support/gatewayProcess.js';
import { RawXmpp } from '../../../test-support/rawXmpp.js';
import { connect, xml } from '../../../test-support/xmppClient.js';

const PASSWORD = 'hostile-test-1';
let gw: GatewayProcess;
const ports = () => ({ xmppPort: gw.xmppPort, httpPort: gw.httpPort });

beforeAll(async () => {
  gw = new GatewayProcess({ env: { PARLEY_XMPP_MAX_STANZA: '10000' } });
  gw.addUser('alice', PASSWORD);
  gw.addUser('bob', PASSWORD);
  gw.addUser('mallory', PASSWORD);
  await gw.start();
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

/** After each attack an ordinary user still signs in and pings the server. */
afterEach(async () => {
  const c = await connect(ports(), 'alice', PASSWORD, { resource: `probe${Date.now()}` });
  const pong = await c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  expect(pong.attrs.type).toBe('result');
  await c.stop();
});

/** A signed-in raw connection (SCRAM over loopback TCP, resource bound). */
async function signedIn(user = 'mallory'): Promise<RawXmpp> {
  const raw = await RawXmpp.open(gw.xmppPort);
  raw.openStream();
  await raw.waitFor(/<\/stream:features>/);
  expect(await raw.scram('sha256', user, PASSWORD)).toBe('success');
  raw.openStream();
  await raw.waitFor(/<bind/);
  raw.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
  await raw.waitFor(/<jid>/);
  return raw;
}

async function expectStreamError(raw: RawXmpp, condition: string): Promise<void> {
  await raw.waitFor(new RegExp(`<stream:error><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`));
  await raw.waitFor(/<\/stream:stream>/);
  await raw.waitClosed();
}

async function xmppConnections(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text();
  return Number(/^parley_xmpp_connections (\d+)$/m.exec(text)![1]);
}

describe('hostile XMPP input', () => {
  it('connections that end before signing in leave nothing behind', async () => {
    const before = await xmppConnections();
    for (let i = 0; i < 20; i++) {
      const raw = await RawXmpp.open(gw.xmppPort);
      raw.openStream();
      await raw.waitFor(/<\/stream:features>/);
      if (i % 2) raw.write('<bogus/>'); // half end with a stream error, half just go away
      raw.destroy();
    }
    const ws = new WebSocket(`ws://127.0.0.1:${gw.httpPort}/xmpp`, 'xmpp');
    await new Promise((r) => ws.once('open', r));
    ws.send('not xml');
    await new Promise((r) => ws.once('close', r));
    const deadline = Date.now() + 5000;
    while ((await xmppConnections()) > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await xmppConnections()).toBe(before);
  });

  it('a stanza with bytes that are not UTF-8 ends the stream with <not-well-formed/> and goes nowhere', async () => {
    const raw = await signedIn();
    const mark = raw.received.length;
    // To mallory herself: if it were delivered, it would come back on this stream.
    raw.writeBytes(Buffer.concat([Buffer.from(`<message to='mallory@localhost' type='chat'><body>bad `), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('</body></message>')]));
    await expectStreamError(raw, 'not-well-formed');
    expect(raw.received.slice(mark)).not.toMatch(/<message/);
  });

  it('a character split across two TCP packets is fine', async () => {
    const raw = await signedIn();
    raw.write(`<presence/>`);
    const e = Buffer.from('é');
    raw.writeBytes(Buffer.concat([Buffer.from(`<message to='mallory@localhost' type='chat'><body>caf`), e.subarray(0, 1)]));
    await new Promise((r) => setTimeout(r, 50));
    raw.writeBytes(Buffer.concat([e.subarray(1), Buffer.from('</body></message>')]));
    await raw.waitFor(/<body>café<\/body>/);
    raw.destroy();
  });

  it('malformed XML ends the stream with <not-well-formed/>', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.openStream();
    await raw.waitFor(/<\/stream:features>/);
    raw.write('<message><body>unclosed</message>');
    await expectStreamError(raw, 'not-well-formed');
  });

  it('a "billion laughs" entity bomb is refused as restricted XML, without expanding anything', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    const lol = ['<!DOCTYPE lolz [', '<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i - 1 || ''};`.replace('&lol0;', '&lol;').repeat(10)}">`);
    lol.push(']>');
    raw.write(`<?xml version='1.0'?>${lol.join('')}<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol9;`);
    await expectStreamError(raw, 'restricted-xml');
  });

  it('an undefined entity reference is not well-formed', async () => {
    const raw = await signedIn();
    raw.write(`<message to='bob@localhost'><body>&xxe;</body></message>`);
    await expectStreamError(raw, 'not-well-formed');
  });

  it('a stanza over PARLEY_XMPP_MAX_STANZA ends the stream with <policy-violation/>', async () => {
    const raw = await signedIn();
    raw.write(`<message to='bob@localhost'><body>${'x'.repeat(20_000)}</body></message>`);
    await expectStreamError(raw, 'policy-violation');
  });

  it('a spoofed from ends the stream with <invalid-from/>', async () => {
    const raw = await signedIn();
    raw.write(`<message from='bob@localhost/phone' to='alice@localhost'><body>I am bob</body></message>`);
    await expectStreamError(raw, 'invalid-from');
  });

  it('a message to someone who has not accepted the sender gets <forbidden/>, the stream stays up', async () => {
    const raw = await signedIn();
    raw.write(`<message to='bob@localhost' id='x1' type='chat'><body>hi</body></message>`);
    await raw.waitFor(/<message[^>]*type="error"[^>]*id="x1"|<message[^>]*id="x1"[^>]*type="error"/);
    await raw.waitFor(/<forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    raw.write(`<iq type='get' id='still-here' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await raw.waitFor(/id="still-here"/);
    raw.destroy();
  });

  it('stanzas before authentication and unknown top-level elements are refused', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.openStream();
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<message to='bob@localhost'><body>no auth</body></message>`);
    await expectStreamError(raw, 'not-authorized');
    const raw2 = await signedIn();
    raw2.write(`<teleport xmlns='urn:example:nope'/>`);
    await expectStreamError(raw2, 'unsupported-stanza-type');
  });

  it('a stream for another domain gets <host-unknown/>', async () => {
    const raw = await RawXmpp.open(gw.xmppPort);
    raw.write(`<?xml version='1.0'?><stream:stream to='evil.example' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    await expectStreamError(raw, 'host-unknown');
  });
});
