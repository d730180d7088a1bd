/**
 * SIP over TLS (RFC 3261 §26.2): phones register and are called over TLS on its own port, with
 * the same certificate as XMPP's STARTTLS (here the generated one); requests to them carry our
 * TLS Via and Record-Route; a plain TCP client on the TLS port gets nothing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authedRequest, register, SDP, SipClient, uid } from '../../../test-support/sipClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let gw: TestGateway;
const clients: SipClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  for (const u of ['alice', 'bob']) await gw.addUser(u, TEST_PASSWORD);
});
afterAll(async () => {
  for (const c of clients) c.close();
  await gw.stop();
});

async function client(user: string, transport: 'udp' | 'tls', port: number): Promise<SipClient> {
  const c = await SipClient.open(port, user, transport);
  clients.push(c);
  return c;
}

describe('SIP over TLS', () => {
  it("presents the same certificate as XMPP's STARTTLS", async () => {
    expect(gw.sipTlsPort).toBeGreaterThan(0);
    const bob = await client('bob', 'tls', gw.sipTlsPort);
    const pem = fs.readFileSync(path.join(gw.dataDir, 'xmpp-tls.crt'), 'utf8');
    const fingerprint = new crypto.X509Certificate(pem).fingerprint256;
    expect(bob.peerCertificate?.fingerprint256).toBe(fingerprint);
  });

  it('registers a phone over TLS and delivers a call to it over its TLS connection, Record-Routed over TLS', async () => {
    const bob = await client('bob', 'tls', gw.sipTlsPort);
    expect((await register(bob, TEST_PASSWORD)).status).toBe(200);
    const alice = await client('alice', 'udp', gw.sipPort);
    const callId = uid('tls-');
    await authedRequest(alice, { method: 'INVITE', uri: 'sip:bob@localhost', from: 'alice', to: 'bob', callId, contact: alice.contact, body: SDP, password: TEST_PASSWORD });
    const invite = await bob.request('INVITE');
    expect(invite.headers('Via')[0]).toMatch(new RegExp(`^SIP/2\\.0/TLS 127\\.0\\.0\\.1:${gw.sipTlsPort};`));
    expect(invite.headers('Record-Route')[0]).toMatch(new RegExp(`<sip:127\\.0\\.0\\.1:${gw.sipTlsPort};transport=tls;lr;`));
    bob.reply(invite, 486, 'Busy Here');
    expect((await alice.final(callId, 'INVITE')).status).toBe(486);
  });

  it('routes a sips: call over TLS only, Record-Routed with a sips: URI, and refuses one that arrives over UDP', async () => {
    const bob = await client('bob', 'tls', gw.sipTlsPort);
    expect((await register(bob, TEST_PASSWORD)).status).toBe(200);
    const carolOnTls = await client('alice', 'tls', gw.sipTlsPort);
    const callId = uid('sips-');
    await authedRequest(carolOnTls, { method: 'INVITE', uri: 'sips:bob@localhost', from: 'alice', to: 'bob', callId, contact: carolOnTls.contact, body: SDP, password: TEST_PASSWORD });
    const invite = await bob.request('INVITE');
    expect(invite.headers('Record-Route')).toEqual([
      expect.stringMatching(new RegExp(`^<sips:127\\.0\\.0\\.1:${gw.sipTlsPort};lr;r=`)),
      expect.stringMatching(new RegExp(`^<sips:127\\.0\\.0\\.1:${gw.sipTlsPort};lr;r=`)),
    ]);
    bob.reply(invite, 486, 'Busy Here');
    expect((await carolOnTls.final(callId, 'INVITE')).status).toBe(486);

    const onUdp = await client('alice', 'udp', gw.sipPort);
    const plain = uid('sips-udp-');
    await authedRequest(onUdp, { method: 'INVITE', uri: 'sips:bob@localhost', from: 'alice', to: 'bob', callId: plain, contact: onUdp.contact, body: SDP, password: TEST_PASSWORD });
    const refused = await onUdp.final(plain, 'INVITE');
    expect(refused.status).toBe(403);
    expect(refused.header('Warning')).toMatch(/must come over TLS/);
  });

  it('gives a plain TCP client on the TLS port nothing', async () => {
    const socket = net.connect(gw.sipTlsPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n');
    const got = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
      setTimeout(() => resolve(data), 2000);
    });
    socket.destroy();
    expect(got).not.toMatch(/SIP\/2\.0/);
  });
});
