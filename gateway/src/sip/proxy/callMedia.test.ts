/**
 * The proxy and the media bridge over real sockets, with Debian's rtpengine: a plain-RTP
 * phone and a browser-like WebSocket client call each other, and each gets the profile it
 * speaks; every way a call ends leaves no call behind in rtpengine; without a bridge, such a
 * call is refused at once with 488 and the reason.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRtpengine, RtpengineProcess } from '../../../test-support/rtpengine.js';
import { BROWSER_OPUS_OFFER, browserAnswer, PHONE_ANSWER, PHONE_OFFER, SDES_OFFER } from '../../../test-support/sdpSamples.js';
import { authedRequest, buildRequest, inDialog, register, SipClient, uid, type ReceivedMessage } from '../../../test-support/sipClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { parseSdp, sessionProfile } from '../sdp/sessionDescription.js';

const clients: SipClient[] = [];
/** Closed before a gateway stops, which waits for its WebSocket clients. */
function closeClients(): void {
  for (const c of clients.splice(0)) c.close();
}

async function phone(gw: TestGateway, user: string): Promise<SipClient> {
  const c = await SipClient.open(gw.sipPort, user, 'udp');
  clients.push(c);
  expect((await register(c, TEST_PASSWORD)).status).toBe(200);
  return c;
}

async function browser(gw: TestGateway, user: string): Promise<SipClient> {
  const c = await SipClient.openWebSocket(gw.httpPort, user);
  clients.push(c);
  expect((await register(c, TEST_PASSWORD)).status).toBe(200);
  return c;
}

function call(from: SipClient, to: string, body: string, callId = uid('bridge-')) {
  return authedRequest(from, { method: 'INVITE', uri: `sip:${to}@localhost`, from: from.user, fromTag: `t-${callId}`, to, callId, contact: from.contact, body, password: TEST_PASSWORD });
}

const profileOf = (m: ReceivedMessage) => sessionProfile(parseSdp(m.body));
const sdp = ['Content-Type: application/sdp'];

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('calls between phones and browsers without a media bridge', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
    for (const u of ['alice', 'bob']) await gw.addUser(u, TEST_PASSWORD);
  });
  afterAll(async () => {
    closeClients();
    await gw.stop();
  });

  it("refuses a plain-RTP phone's call to a browser at once with 488 and the reason, without ringing the browser", async () => {
    const bob = await browser(gw, 'bob');
    const alice = await phone(gw, 'alice');
    const o = await call(alice, 'bob', PHONE_OFFER);
    const res = await alice.final(o.callId, 'INVITE');
    expect(res.status).toBe(488);
    expect(res.header('Warning')).toMatch(/^399 \S+ "The caller sends plain RTP and the callee needs WebRTC media .*no media bridge/);
    await expect(bob.request('INVITE', 500)).rejects.toThrow(/timed out/);
  });
});

describe.skipIf(!hasRtpengine())('calls through the media bridge (rtpengine)', () => {
  const rtpengine = new RtpengineProcess();
  let gw: TestGateway;
  let alice: SipClient; // a desk phone, plain RTP over UDP
  let bob: SipClient; // a browser, SIP over WebSocket

  beforeAll(async () => {
    await rtpengine.start();
    gw = await startTestGateway({ PARLEY_MEDIA_BRIDGE: rtpengine.url });
    for (const u of ['alice', 'bob', 'carol']) await gw.addUser(u, TEST_PASSWORD);
    alice = await phone(gw, 'alice');
    bob = await browser(gw, 'bob');
  }, 30_000);
  afterAll(async () => {
    closeClients();
    await gw?.stop();
    await rtpengine.stop();
  });

  it('a phone calls a browser: the browser is offered WebRTC media, the phone gets plain RTP back; BYE ends it in rtpengine', async () => {
    const o = await call(alice, 'bob', PHONE_OFFER);
    const invite = await bob.request('INVITE');
    expect(profileOf(invite)).toBe('webrtc');
    expect(invite.body).toMatch(/a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/);
    bob.reply(invite, 180, 'Ringing');
    bob.reply(invite, 200, 'OK', sdp, browserAnswer(invite.body));
    const ok = await alice.response(o.callId, 'INVITE', 200);
    expect(profileOf(ok)).toBe('rtp');
    expect(ok.body).not.toMatch(/ice-ufrag|fingerprint|50111/);
    expect(await rtpengine.query(o.callId)).toBeDefined();
    expect(gw.gateway.sip.stats.sip_bridged_calls).toBe(1);

    alice.send(inDialog(alice, ok, 'ACK', 2, o.fromTag!));
    alice.send(inDialog(alice, ok, 'BYE', 3, o.fromTag!));
    const bye = await bob.request('BYE');
    bob.reply(bye, 200, 'OK');
    expect((await alice.final(o.callId, 'BYE')).status).toBe(200);
    await until(async () => (await rtpengine.query(o.callId)) === undefined, 'the call gone from rtpengine');
    expect(gw.gateway.sip.stats.sip_bridged_calls).toBe(0);
  });

  it('a browser offering opus alone calls a phone: the phone is offered G.711 over plain RTP (rtpengine transcodes), the browser gets WebRTC back', async () => {
    const o = await call(bob, 'alice', BROWSER_OPUS_OFFER);
    const invite = await alice.request('INVITE');
    expect(profileOf(invite)).toBe('rtp');
    expect(invite.body).toMatch(/m=audio \d+ RTP\/AVP 111 0 8/);
    alice.reply(invite, 200, 'OK', sdp, PHONE_ANSWER);
    const ok = await bob.response(o.callId, 'INVITE', 200);
    expect(profileOf(ok)).toBe('webrtc');
    expect(ok.body).toMatch(/UDP\/TLS\/RTP\/SAVPF 111/);
    bob.send(inDialog(bob, ok, 'ACK', 2, o.fromTag!));
    // A re-INVITE from the phone (hold, say) goes through the bridge too, each side in its profile.
    const reinvite = buildRequest(alice, {
      method: 'INVITE',
      uri: /<([^>]+)>/.exec(invite.header('Contact') ?? '')![1],
      from: 'alice',
      fromTag: 'alice-tag',
      to: 'bob',
      toTag: /tag=([^;>]+)/.exec(invite.header('From')!)![1],
      callId: o.callId,
      cseq: 10,
      extra: invite.headers('Record-Route').flatMap((h) => h.split(/,\s*(?=<)/)).length ? [`Route: ${invite.headers('Record-Route').join(', ')}`] : [],
      body: PHONE_ANSWER.replace('a=sendrecv', 'a=sendonly'),
    });
    alice.send(reinvite);
    const reoffer = await bob.request('INVITE');
    expect(profileOf(reoffer)).toBe('webrtc');
    bob.reply(reoffer, 200, 'OK', sdp, browserAnswer(reoffer.body).replace('a=sendrecv', 'a=recvonly'));
    const reok = await alice.response(o.callId, 'INVITE', 200);
    expect(profileOf(reok)).toBe('rtp');
    // The browser's connection dies without a BYE: the call goes from rtpengine at once.
    bob.close();
    await until(async () => (await rtpengine.query(o.callId)) === undefined, 'the call gone from rtpengine after the flow died');
    bob = await browser(gw, 'bob');
  });

  it('a call that is declined, or cancelled, leaves nothing in rtpengine', async () => {
    const declined = await call(alice, 'bob', PHONE_OFFER);
    const invite = await bob.request('INVITE');
    bob.reply(invite, 486, 'Busy Here');
    expect((await alice.final(declined.callId, 'INVITE')).status).toBe(486);
    await until(async () => (await rtpengine.query(declined.callId)) === undefined, 'declined call gone');

    const cancelled = await call(alice, 'bob', PHONE_OFFER);
    const ringing = await bob.request('INVITE');
    bob.reply(ringing, 180, 'Ringing');
    await alice.response(cancelled.callId, 'INVITE', 180);
    alice.send(buildRequest(alice, { ...cancelled, method: 'CANCEL', body: undefined, contact: undefined, extra: [] }));
    const cancel = await bob.request('CANCEL');
    bob.reply(cancel, 200, 'OK');
    bob.reply(ringing, 487, 'Request Terminated');
    expect((await alice.final(cancelled.callId, 'INVITE')).status).toBe(487);
    await until(async () => (await rtpengine.query(cancelled.callId)) === undefined, 'cancelled call gone');
    expect(await rtpengine.sessions()).toBe(0);
  });

  it('a phone on TLS with SDES-SRTP and a browser call each other: SDES keys to the phone, WebRTC to the browser', async () => {
    const dave = await SipClient.open(gw.sipTlsPort, 'carol', 'tls');
    clients.push(dave);
    expect((await register(dave, TEST_PASSWORD)).status).toBe(200);
    const toPhone = await call(bob, 'carol', BROWSER_OPUS_OFFER);
    const invite = await dave.request('INVITE');
    expect(profileOf(invite)).toBe('srtp-sdes');
    expect(invite.body).toMatch(/a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:/);
    dave.reply(invite, 486, 'Busy Here');
    await bob.final(toPhone.callId, 'INVITE');

    const fromPhone = await call(dave, 'bob', SDES_OFFER);
    const ringing = await bob.request('INVITE');
    expect(profileOf(ringing)).toBe('webrtc');
    bob.reply(ringing, 200, 'OK', sdp, browserAnswer(ringing.body));
    const ok = await dave.response(fromPhone.callId, 'INVITE', 200);
    expect(profileOf(ok)).toBe('srtp-sdes');
    dave.send(inDialog(dave, ok, 'ACK', 2, fromPhone.fromTag!));
    dave.send(inDialog(dave, ok, 'BYE', 3, fromPhone.fromTag!));
    bob.reply(await bob.request('BYE'), 200, 'OK');
    await until(async () => (await rtpengine.query(fromPhone.callId)) === undefined, 'the TLS call gone from rtpengine');
    dave.close();
  });

  it('two phones with plain RTP call each other directly, unless one is behind NAT: then its media is anchored', async () => {
    const carol = await phone(gw, 'carol');
    const direct = await call(alice, 'carol', PHONE_OFFER);
    const invite = await carol.request('INVITE');
    expect(invite.body).toBe(PHONE_OFFER);
    carol.reply(invite, 486, 'Busy Here');
    await alice.final(direct.callId, 'INVITE');

    const natted = await call(alice, 'carol', PHONE_OFFER.replace(/127\.0\.0\.1/g, '192.168.1.20'));
    const anchored = await carol.request('INVITE');
    expect(anchored.body).not.toContain('192.168.1.20');
    expect(profileOf(anchored)).toBe('rtp');
    carol.reply(anchored, 486, 'Busy Here');
    await alice.final(natted.callId, 'INVITE');
    await until(async () => (await rtpengine.sessions()) === 0, 'no calls left');
  });
});

describe.skipIf(!hasRtpengine())('media through the bridge', () => {
  const rtpengine = new RtpengineProcess();
  let gw: TestGateway;
  const sockets: dgram.Socket[] = [];

  beforeAll(async () => {
    await rtpengine.start();
    gw = await startTestGateway({ PARLEY_MEDIA_BRIDGE: rtpengine.url });
    for (const u of ['alice', 'carol']) await gw.addUser(u, TEST_PASSWORD);
  }, 30_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    closeClients();
    await gw?.stop();
    await rtpengine.stop();
  });

  async function rtpSocket(): Promise<{ socket: dgram.Socket; port: number; received: Buffer[] }> {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    const received: Buffer[] = [];
    socket.on('message', (m) => received.push(m));
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    return { socket, port: socket.address().port, received };
  }

  /** An RTP packet: payload type, sequence number, marker bit, payload. */
  function rtp(pt: number, seq: number, payload: Buffer, marker = false): Buffer {
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = (marker ? 0x80 : 0) | pt;
    header.writeUInt16BE(seq, 2);
    header.writeUInt32BE(seq * 160, 4);
    header.writeUInt32BE(0x1234abcd, 8);
    return Buffer.concat([header, payload]);
  }

  const mediaPort = (body: string) => Number(/m=audio (\d+)/.exec(body)![1]);

  it("carries a NATted phone's RTP and RFC 4733 telephone events to the other phone, and sends media back to where the NATted phone's packets come from", async () => {
    const alice = await phone(gw, 'alice');
    const carol = await phone(gw, 'carol');
    const aliceRtp = await rtpSocket();
    const carolRtp = await rtpSocket();
    // alice is behind NAT: her offer names her private address; her packets come from 127.0.0.1.
    const offer = PHONE_OFFER.replace(/127\.0\.0\.1/g, '192.168.1.20').replace('m=audio 16000', `m=audio ${aliceRtp.port}`);
    const o = await call(alice, 'carol', offer);
    const invite = await carol.request('INVITE');
    const answer = PHONE_OFFER.replace('m=audio 16000 RTP/AVP 0 8 101', `m=audio ${carolRtp.port} RTP/AVP 0 101`).replace('a=rtpmap:8 PCMA/8000\r\n', '');
    carol.reply(invite, 200, 'OK', sdp, answer);
    const ok = await alice.response(o.callId, 'INVITE', 200);
    alice.send(inDialog(alice, ok, 'ACK', 2, o.fromTag!));
    const toCarolViaBridge = mediaPort(ok.body);
    const toAliceViaBridge = mediaPort(invite.body);
    // Anchored: each side is given rtpengine's ports, not the other's.
    expect(invite.body).not.toContain('192.168.1.20');
    expect([toCarolViaBridge, toAliceViaBridge]).not.toContain(carolRtp.port);
    expect([toCarolViaBridge, toAliceViaBridge]).not.toContain(aliceRtp.port);
    expect(await rtpengine.sessions()).toBe(1);

    const voice = Buffer.alloc(160, 0xff);
    const digit5 = Buffer.from([5, 0x0a, 0x00, 0xa0]); // RFC 4733: event 5, volume 10, duration 160
    for (let i = 0; i < 10; i++) {
      aliceRtp.socket.send(rtp(0, 100 + i, voice), toCarolViaBridge, '127.0.0.1');
      carolRtp.socket.send(rtp(0, 500 + i, voice), toAliceViaBridge, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 3; i++) aliceRtp.socket.send(rtp(101, 110 + i, digit5, i === 0), toCarolViaBridge, '127.0.0.1');
    await until(async () => carolRtp.received.some((p) => (p[1] & 0x7f) === 101), 'the telephone event at carol', 5_000);
    const carolGot = carolRtp.received.map((p) => p[1] & 0x7f);
    expect(carolGot.filter((pt) => pt === 0).length).toBeGreaterThanOrEqual(5);
    const event = carolRtp.received.find((p) => (p[1] & 0x7f) === 101)!;
    expect(event.subarray(12, 16)).toEqual(digit5);
    await until(async () => aliceRtp.received.length >= 5, "carol's voice at alice's real address", 5_000);

    alice.send(inDialog(alice, ok, 'BYE', 3, o.fromTag!));
    carol.reply(await carol.request('BYE'), 200, 'OK');
    await until(async () => (await rtpengine.sessions()) === 0, 'the call gone from rtpengine');
  });
});

describe.skipIf(!hasRtpengine())('a bridged call whose phone vanishes without BYE', () => {
  const rtpengine = new RtpengineProcess({ timeoutSeconds: 2 });
  let gw: TestGateway;

  beforeAll(async () => {
    await rtpengine.start();
    gw = await startTestGateway({ PARLEY_MEDIA_BRIDGE: rtpengine.url, PARLEY_MEDIA_BRIDGE_CHECK_SECONDS: '1' });
    for (const u of ['alice', 'bob']) await gw.addUser(u, TEST_PASSWORD);
  }, 30_000);
  afterAll(async () => {
    closeClients();
    await gw?.stop();
    await rtpengine.stop();
  });

  it('is deleted by rtpengine once no media has come for its timeout, and the gateway forgets it', async () => {
    const alice = await phone(gw, 'alice');
    const bob = await browser(gw, 'bob');
    const o = await call(alice, 'bob', PHONE_OFFER);
    const invite = await bob.request('INVITE');
    bob.reply(invite, 200, 'OK', sdp, browserAnswer(invite.body));
    const ok = await alice.response(o.callId, 'INVITE', 200);
    alice.send(inDialog(alice, ok, 'ACK', 2, o.fromTag!));
    expect(gw.gateway.sip.stats.sip_bridged_calls).toBe(1);
    // The UDP phone is unplugged: no BYE, no media; its "flow" cannot die, only go quiet.
    alice.close();
    await until(async () => (await rtpengine.query(o.callId)) === undefined, 'rtpengine deleting the silent call', 15_000);
    await until(async () => gw.gateway.sip.stats.sip_bridged_calls === 0, 'the gateway forgetting it', 5_000);
  }, 30_000);
});
