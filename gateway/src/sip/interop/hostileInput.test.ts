/**
 * Malformed and hostile SIP against the gateway running as its own process: each gets the
 * standard answer (or is dropped when there is nobody to answer), and the process keeps serving.
 * The RFC 4475 torture messages have a test of their own (torture.test.ts).
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../../../test-support/gatewayProcess.js';
import { SipClient, uid, type ReceivedMessage } from '../../../test-support/sipClient.js';

let gw: GatewayProcess;

beforeAll(async () => {
  gw = new GatewayProcess();
  gw.addUser('alice', 'alice-secret-1');
  await gw.start();
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

/** Proof of life after every case: an OPTIONS ping still gets 200. */
afterEach(async () => {
  const c = await SipClient.open(gw.sipPort, 'probe');
  const callId = uid();
  c.send(`OPTIONS sip:localhost SIP/2.0\r\nVia: ${c.via}\r\nFrom: <sip:probe@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
  expect((await c.final(callId, 'OPTIONS')).status).toBe(200);
  c.close();
});

/** Sends raw text from a fresh UDP socket (CRLF line ends) and returns the first answer, if any. */
async function send(lines: string[] | string, waitMs = 2000): Promise<ReceivedMessage | undefined> {
  const c = await SipClient.open(gw.sipPort, 'attacker');
  const text = typeof lines === 'string' ? lines : lines.join('\r\n');
  c.send(text.replace(/\{via\}/g, c.via));
  try {
    return await c.waitFor(() => true, waitMs);
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

const head = (method = 'OPTIONS', uri = 'sip:localhost') => [
  `${method} ${uri} SIP/2.0`,
  'Via: {via}',
  'From: <sip:alice@localhost>;tag=1',
  'To: <sip:localhost>',
  `Call-ID: ${uid()}`,
  `CSeq: 1 ${method}`,
  'Max-Forwards: 70',
];
const end = ['Content-Length: 0', '', ''];
const without = (lines: string[], name: string) => lines.filter((l) => !l.startsWith(`${name}:`));

describe('hostile and malformed SIP', () => {
  it.each([
    ['a request without Via', 400, () => [...without(head(), 'Via'), ...end]],
    ['a request without Call-ID', 400, () => [...without(head(), 'Call-ID'), ...end]],
    ['a request without CSeq', 400, () => [...without(head(), 'CSeq'), ...end]],
    ['a CSeq method that differs from the request method', 400, () => [...without(head(), 'CSeq'), 'CSeq: 1 INVITE', ...end]],
    ['a Content-Length larger than the body', 400, () => [...head('MESSAGE', 'sip:alice@localhost'), 'Content-Length: 5000', '', 'short']],
    ['a negative Content-Length', 400, () => [...head(), 'Content-Length: -1', '', '']],
    ['an unknown SIP version', 505, () => ['OPTIONS sip:localhost SIP/7.0', ...head().slice(1), ...end]],
    ['an unknown method addressed to the server', 501, () => [...head('FROBNICATE'), ...end]],
    ['an unauthenticated INVITE to a foreign domain (relay attempt)', 403, () => [...head('INVITE', 'sip:victim@evil.example.net'), ...end]],
    ['Max-Forwards 0 for someone else', 483, () => [...without(head('MESSAGE', 'sip:alice@localhost'), 'Max-Forwards'), 'Max-Forwards: 0', ...end]],
    ['a tel: Request-URI', 416, () => [...head('INVITE', 'tel:+15551234567'), ...end]],
    ['an unsupported Proxy-Require', 420, () => [...head('MESSAGE', 'sip:alice@localhost'), 'Proxy-Require: foo', ...end]],
    ['an OPTIONS to the server that Requires an unknown extension', 420, () => [...head(), 'Require: 100rel, frobnication', ...end]],
    ['a REGISTER that Requires an unknown extension', 420, () => [...without(head('REGISTER'), 'To'), 'To: <sip:alice@localhost>', 'Require: frobnication', ...end]],
    ['a REGISTER whose To is not a SIP URI', 400, () => [...without(head('REGISTER'), 'To'), 'To: <tel:+15551234567>', ...end]],
    ['a call whose body is compressed', 415, () => [...head('INVITE', 'sip:alice@localhost'), 'Content-Type: application/sdp', 'Content-Encoding: gzip', 'Content-Length: 4', '', 'abcd']],
    ['a call whose session description does not parse', 488, () => [...head('INVITE', 'sip:alice@localhost'), 'Content-Type: application/sdp', 'Content-Length: 10', '', 'v=0\r\nhello']],
    ['a call whose body is not SDP', 415, () => [...head('INVITE', 'sip:alice@localhost'), 'Content-Type: text/plain', 'Content-Length: 4', '', 'abcd']],
    ['a Contact with "?" outside <>', 400, () => [...without(head('REGISTER'), 'To'), 'To: <sip:alice@localhost>', 'Contact: sip:alice@127.0.0.1?Route=x', ...end]],
    ['two hundred headers', 513, () => [...head(), ...Array.from({ length: 200 }, (_, i) => `X-Flood-${i}: x`), ...end]],
    ['a Request-URI with spaces', 400, () => ['OPTIONS sip:local host SIP/2.0', ...head().slice(1), ...end]],
  ])('%s gets %i', async (_what, status, build) => {
    const res = await send(build());
    expect(res?.status).toBe(status);
  });

  it('drops binary garbage without answering', async () => {
    expect(await send(Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)).toString('latin1'), 800)).toBeUndefined();
  });

  it('closes a TCP connection that sends an endless header with 513', async () => {
    const sock = net.connect(gw.sipPort, '127.0.0.1');
    let reply = '';
    sock.on('data', (d) => (reply += d));
    const closed = new Promise((r) => sock.on('close', r));
    sock.on('error', () => {});
    sock.write(`OPTIONS sip:localhost SIP/2.0\r\nX-Endless: ${'b'.repeat(100_000)}`);
    await closed;
    expect(reply).toMatch(/^SIP\/2\.0 513/);
  });
});
