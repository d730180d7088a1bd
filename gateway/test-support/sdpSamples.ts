/** Session descriptions as real peers send them, for the media bridge's tests. */
const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';

/** A desk phone's offer: plain RTP/AVP, G.711 and DTMF events, separate RTCP. */
export const PHONE_OFFER = crlf([
  'v=0',
  'o=phone 1 1 IN IP4 127.0.0.1',
  's=call',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 16000 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
]);

/** What a browser answers to a WebRTC offer (ICE, DTLS, rtcp-mux; one host candidate). */
export function browserAnswer(offer: string): string {
  const pt = / RTP\/SAVPF? ([\d ]+)|UDP\/TLS\/RTP\/SAVPF ([\d ]+)/.exec(offer);
  const first = (pt?.[1] ?? pt?.[2] ?? '0').split(' ')[0];
  return crlf([
    'v=0',
    'o=- 8142930845 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'm=audio 50111 UDP/TLS/RTP/SAVPF ' + first,
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1 1 udp 2122260223 127.0.0.1 50111 typ host generation 0',
    'a=ice-ufrag:bRwS',
    'a=ice-pwd:lxEsn5ChZ0KYbC6yW1x5Kp3v',
    'a=fingerprint:sha-256 0B:1E:8A:3D:5F:71:0C:5E:0D:9F:29:2A:3E:34:2B:14:36:3C:9F:1B:86:7F:0E:93:2D:CF:4D:9B:D2:13:1E:C4',
    'a=setup:active',
    'a=mid:0',
    'a=sendrecv',
    'a=rtcp-mux',
  ]);
}

/** Chromium's offer, audio only, opus alone (no codec a G.711 phone has). */
export const BROWSER_OPUS_OFFER = crlf([
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 50222 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 127.0.0.1',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1 1 udp 2122260223 127.0.0.1 50222 typ host generation 0',
  'a=ice-ufrag:Q8Xk',
  'a=ice-pwd:7Xcz0ub0Fk0P4FBl3X0bJv8m',
  'a=fingerprint:sha-256 0B:1E:8A:3D:5F:71:0C:5E:0D:9F:29:2A:3E:34:2B:14:36:3C:9F:1B:86:7F:0E:93:2D:CF:4D:9B:D2:13:1E:C4',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
]);


/** A desk phone's answer: PCMU alone, plain RTP. */
export const PHONE_ANSWER = crlf(['v=0', 'o=phone 2 2 IN IP4 127.0.0.1', 's=call', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 16002 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv']);

/** A phone on TLS: RTP/SAVP keyed with SDES (RFC 4568), G.711. */
export const SDES_OFFER = crlf([
  'v=0',
  'o=phone 3 3 IN IP4 127.0.0.1',
  's=call',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 16004 RTP/SAVP 0 8',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
  'a=sendrecv',
]);
