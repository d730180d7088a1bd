/** Session descriptions from real peers: parsed, classified by media profile, formatted back unchanged. */
import { describe, expect, it } from 'vitest';
import { formatSdp, hasVideo, mediaProfile, parseSdp, SdpParseError } from './sessionDescription.js';

const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';

/** Chromium's offer (trimmed): ICE, DTLS fingerprint, UDP/TLS/RTP/SAVPF, rtcp-mux. */
const CHROMIUM_OFFER = crlf([
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:Q8Xk',
  'a=ice-pwd:7Xcz0ub0Fk0P4FBl3X0bJv8m',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 0B:1E:8A:3D:5F:71:0C:5E:0D:9F:29:2A:3E:34:2B:14:36:3C:9F:1B:86:7F:0E:93:2D:CF:4D:9B:D2:13:1E:C4',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Q8Xk',
  'a=ice-pwd:7Xcz0ub0Fk0P4FBl3X0bJv8m',
  'a=fingerprint:sha-256 0B:1E:8A:3D:5F:71:0C:5E:0D:9F:29:2A:3E:34:2B:14:36:3C:9F:1B:86:7F:0E:93:2D:CF:4D:9B:D2:13:1E:C4',
  'a=setup:actpass',
  'a=mid:1',
  'a=rtpmap:96 VP8/90000',
]);

/** sipp's uac scenario: plain RTP/AVP, PCMU. */
const SIPP_OFFER = crlf(['v=0', 'o=user1 53655765 2353687637 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 6000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000']);

/** linphonec 5.1 with ICE and DTLS: ICE credentials at session level, candidates in the section. */
const LINPHONE_OFFER = crlf([
  'v=0',
  'o=carol 2915 3314 IN IP4 127.0.0.1',
  's=Talk',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=ice-pwd:a1e7b554a0f94e779563870b',
  'a=ice-ufrag:d79d591c',
  'm=audio 7078 UDP/TLS/RTP/SAVPF 96 0 8 101',
  'c=IN IP4 10.99.0.1',
  'a=rtpmap:96 opus/48000/2',
  'a=rtpmap:101 telephone-event/8000',
  'a=setup:actpass',
  'a=fingerprint:SHA-256 DF:C8:C2:AC:96:2E:57:F0:94:10:ED:BC:73:44:CF:A3:77:FC:7E:8F:BA:D2:80:D0:62:11:A6:DE:BC:B4:11:B5',
  'a=rtcp-mux',
  'a=candidate:1 1 UDP 2130706303 10.99.0.1 7078 typ host',
]);

const SDES_OFFER = crlf([
  'v=0',
  'o=phone 1 1 IN IP4 192.0.2.7',
  's=call',
  'c=IN IP4 192.0.2.7',
  't=0 0',
  'm=audio 20000 RTP/SAVP 0 8',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
]);

describe('session descriptions', () => {
  it('tell WebRTC, SDES-SRTP and plain RTP media apart', () => {
    const chromium = parseSdp(CHROMIUM_OFFER);
    expect(chromium.media.map((m) => mediaProfile(chromium, m))).toEqual(['webrtc', 'webrtc']);
    expect(hasVideo(chromium)).toBe(true);
    const linphone = parseSdp(LINPHONE_OFFER);
    expect(mediaProfile(linphone, linphone.media[0])).toBe('webrtc');
    const sipp = parseSdp(SIPP_OFFER);
    expect(mediaProfile(sipp, sipp.media[0])).toBe('rtp');
    expect(hasVideo(sipp)).toBe(false);
    const sdes = parseSdp(SDES_OFFER);
    expect(mediaProfile(sdes, sdes.media[0])).toBe('srtp-sdes');
  });

  it('format back to the same text', () => {
    for (const sdp of [CHROMIUM_OFFER, SIPP_OFFER, LINPHONE_OFFER, SDES_OFFER]) expect(formatSdp(parseSdp(sdp))).toBe(sdp);
  });

  it('accept bare LF line ends and read the media port range', () => {
    const sd = parseSdp(SIPP_OFFER.replace(/\r\n/g, '\n').replace('m=audio 6000 ', 'm=audio 6000/2 '));
    expect(sd.media[0]).toMatchObject({ port: 6000, portCount: 2, formats: ['0'] });
  });

  it.each([
    ['empty', ''],
    ['not SDP at all', 'hello world'],
    ['no v=0 first', SIPP_OFFER.replace('v=0\r\n', '')],
    ['v=1', SIPP_OFFER.replace('v=0', 'v=1')],
    ['a short o=', SIPP_OFFER.replace(/^o=.*$/m, 'o=user1 5 IN IP4 127.0.0.1')],
    ['no t=', SIPP_OFFER.replace('t=0 0\r\n', '')],
    ['a port past 65535', SIPP_OFFER.replace('6000', '70000')],
    ['an m= without formats', SIPP_OFFER.replace('RTP/AVP 0', 'RTP/AVP')],
    ['a line without =', SIPP_OFFER + 'garbage\r\n'],
    ['a second v=', SIPP_OFFER + 'v=0\r\n'],
    ['an attribute name that is not a token', SIPP_OFFER + 'a=bad name:x\r\n'],
    ['too many media sections', SIPP_OFFER + 'm=audio 1 RTP/AVP 0\r\n'.repeat(33)],
  ])('refuse %s with a reason', (_what, sdp) => {
    expect(() => parseSdp(sdp)).toThrow(SdpParseError);
  });
});
