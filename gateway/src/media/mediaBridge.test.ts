/**
 * The media bridge against Debian's rtpengine on loopback: offers and answers come out in the
 * profile the other side speaks, codecs are added for transcoding, and a deleted call leaves
 * nothing behind in rtpengine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../server-common/logger.js';
import { hasRtpengine, RtpengineProcess } from '../../test-support/rtpengine.js';
import { BROWSER_OPUS_OFFER, browserAnswer, PHONE_OFFER } from '../../test-support/sdpSamples.js';
import { mediaAddresses, parseSdp, sessionProfile } from '../sip/sdp/sessionDescription.js';
import { MediaBridge } from './mediaBridge.js';
import { NgClient, NgUnreachableError } from './rtpengine/ngClient.js';

const logger = createLogger('silent');

describe.skipIf(!hasRtpengine())('media bridge (rtpengine)', () => {
  const rtpengine = new RtpengineProcess();
  let bridge: MediaBridge;

  beforeAll(async () => {
    await rtpengine.start();
    bridge = new MediaBridge({ url: rtpengine.url, logger });
  }, 20_000);
  afterAll(async () => {
    bridge?.close();
    await rtpengine.stop();
  });

  it('answers ping', async () => {
    expect(await bridge.ping()).toBe(true);
  });

  it("turns a phone's plain RTP offer into a WebRTC offer for a browser, and the browser's answer back into plain RTP", async () => {
    const callId = 'phone-to-browser-1';
    const offer = await bridge.offer({ callId, fromTag: 'ph1', sdp: PHONE_OFFER, to: 'webrtc', viaBranch: 'z9hG4bK-b1' });
    const forBrowser = parseSdp(offer);
    expect(sessionProfile(forBrowser)).toBe('webrtc');
    expect(offer).toMatch(/a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/);
    expect(offer).toContain('a=rtcp-mux');
    expect(offer).toMatch(/a=setup:(actpass|passive)/);
    expect(offer).not.toContain('a=crypto');
    expect(offer).toMatch(/a=rtpmap:0 PCMU\/8000/);
    expect(offer).toMatch(/a=rtpmap:101 telephone-event\/8000/); // RFC 4733 DTMF passes through
    expect(mediaAddresses(forBrowser)).toEqual(['127.0.0.1']);

    const answer = await bridge.answer({ callId, fromTag: 'ph1', toTag: 'br1', viaBranch: 'z9hG4bK-b1', sdp: browserAnswer(offer), to: 'rtp' });
    const forPhone = parseSdp(answer);
    expect(sessionProfile(forPhone)).toBe('rtp');
    expect(answer).not.toMatch(/a=(candidate|ice-ufrag|fingerprint)/);
    expect(forPhone.media[0].port).not.toBe(50111); // rtpengine's port, not the browser's
    expect(await rtpengine.sessions()).toBe(1);
    await bridge.delete(callId);
    expect(await rtpengine.sessions()).toBe(0);
    expect(await bridge.holds(callId)).toBe(false);
  });

  it('offers G.711 to a phone when the browser offers opus alone, so rtpengine transcodes', async () => {
    const callId = 'browser-to-phone-opus';
    const offer = await bridge.offer({ callId, fromTag: 'br2', sdp: BROWSER_OPUS_OFFER, to: 'rtp' });
    expect(sessionProfile(parseSdp(offer))).toBe('rtp');
    expect(offer).toMatch(/m=audio \d+ RTP\/AVP 111 0 8 9/);
    expect(offer).not.toMatch(/a=(candidate|ice-ufrag|fingerprint|rtcp-mux)/);
    const phoneAnswer = PHONE_OFFER.replace('RTP/AVP 0 8 101', 'RTP/AVP 0').replace('a=rtpmap:8 PCMA/8000\r\n', '');
    const answer = await bridge.answer({ callId, fromTag: 'br2', toTag: 'ph2', sdp: phoneAnswer, to: 'webrtc' });
    expect(sessionProfile(parseSdp(answer))).toBe('webrtc');
    expect(answer).toMatch(/m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111/); // the browser keeps opus
    expect(await bridge.holds(callId)).toBe(true);
    await bridge.delete(callId);
    expect(await bridge.holds(callId)).toBe(false);
  });

  it('gives SDES keys to a phone on TLS', async () => {
    const callId = 'browser-to-tls-phone';
    const offer = await bridge.offer({ callId, fromTag: 'br3', sdp: BROWSER_OPUS_OFFER, to: 'srtp-sdes' });
    expect(sessionProfile(parseSdp(offer))).toBe('srtp-sdes');
    expect(offer).toMatch(/m=audio \d+ RTP\/SAVP /);
    // The two suites every SRTP phone has, the mandatory one first (RFC 4568 §6.2).
    expect(offer.match(/^a=crypto:.*$/gm)?.map((l) => l.split(' ')[1])).toEqual(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
    await bridge.delete(callId);
  });

  it('anchors the media of a phone behind NAT where its signalling came from', async () => {
    const callId = 'natted-phone';
    const natted = PHONE_OFFER.replace(/127\.0\.0\.1/g, '192.168.1.20');
    const offer = await bridge.offer({ callId, fromTag: 'ph4', sdp: natted, to: 'rtp', sourceAddress: '127.0.0.1' });
    expect(offer).not.toContain('192.168.1.20');
    expect(mediaAddresses(parseSdp(offer))).toEqual(['127.0.0.1']);
    await bridge.delete(callId);
  });

  it('deleting a call it does not know is not an error', async () => {
    await expect(bridge.delete('never-offered')).resolves.toBeUndefined();
  });
});

describe('ng client', () => {
  it('fails a request to an rtpengine that is not there, after its retries', async () => {
    const client = new NgClient({ host: '127.0.0.1', port: 9, retryMs: 50, tries: 2 });
    await expect(client.request('ping')).rejects.toBeInstanceOf(NgUnreachableError);
    client.close();
  });
});
