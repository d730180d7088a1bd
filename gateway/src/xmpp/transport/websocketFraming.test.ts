/**
 * XMPP over WebSocket (RFC 7395) with what a careless or hostile client may send: each ends the
 * stream with <not-well-formed/>, then the framing <close/>, then the WebSocket closes — and
 * nothing the bad message held is acted on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, xml } from '../../../test-support/xmppClient.js';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.addUser('alice');
});

afterAll(async () => {
  await gw?.stop();
});

interface RawWs {
  ws: WebSocket;
  frames: string[];
  closed: Promise<number>;
  next(match: RegExp, timeoutMs?: number): Promise<string>;
}

/** A WebSocket client that has opened the XMPP stream and received the features. */
async function opened(): Promise<RawWs> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.httpPort}/xmpp`, 'xmpp');
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(d.toString()));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const raw: RawWs = {
    ws,
    frames,
    closed,
    async next(match, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const f = frames.find((x) => match.test(x));
        if (f) return f;
        if (Date.now() > deadline) throw new Error(`no frame matching ${match}; got ${frames.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  ws.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
  await raw.next(/<stream:features/);
  return raw;
}

async function expectNotWellFormed(raw: RawWs, text: RegExp): Promise<void> {
  const error = await raw.next(/<stream:error/);
  expect(error).toMatch(/<not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
  expect(error).toMatch(text);
  // The error, then the framing close, then the socket closes (RFC 7395 §3.6).
  const afterError = raw.frames.slice(raw.frames.indexOf(error) + 1);
  await raw.next(/<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"\/>/);
  expect(afterError.length === 0 || /<close/.test(afterError[0])).toBe(true);
  expect(await raw.closed).toBe(1000);
}

describe('XMPP over WebSocket framing', () => {
  it('a message that is not XML ends the stream with <not-well-formed/>', async () => {
    const raw = await opened();
    raw.ws.send('hello, is this XMPP?');
    await expectNotWellFormed(raw, /exactly one complete XML element|text outside an element/);
  });

  it('a message holding two elements ends the stream, and neither is acted on (RFC 7395 §3.3.3)', async () => {
    const raw = await opened();
    raw.ws.send(`<iq type='get' id='one' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='two' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await expectNotWellFormed(raw, /exactly one complete XML element/);
    expect(raw.frames.join('')).not.toMatch(/id="one"|id='one'/);
  });

  it('a message with half an element ends the stream', async () => {
    const raw = await opened();
    raw.ws.send(`<iq type='get' id='half' xmlns='jabber:client'>`);
    await expectNotWellFormed(raw, /exactly one complete XML element/);
  });

  it('a text message that is not UTF-8 ends the stream with <not-well-formed/>', async () => {
    const raw = await opened();
    raw.ws.send(Buffer.from([0x3c, 0x61, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x61, 0x3e]), { binary: false });
    await expectNotWellFormed(raw, /not valid UTF-8/);
  });

  it('a binary message ends the stream: XMPP over WebSocket is text', async () => {
    const raw = await opened();
    raw.ws.send(Buffer.from(`<iq type='get' id='bin' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>`), { binary: true });
    await expectNotWellFormed(raw, /text messages/);
  });

  it('an ordinary client over WebSocket is unaffected', async () => {
    const c = await connect(gw, 'alice', TEST_PASSWORD, { transport: 'ws' });
    const pong = await c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(pong.attrs.type).toBe('result');
    await c.stop();
  });
});
