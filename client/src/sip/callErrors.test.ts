import { describe, expect, it } from 'vitest';
import { describeFailure } from './callErrors';

describe('call failures in words', () => {
  it("says a phone needs the media bridge the server lacks when a 488's Warning says so", () => {
    const warning = '399 127.0.0.1 "The caller sends WebRTC media (ICE, DTLS-SRTP) and the callee needs plain RTP; this server has no media bridge to connect them (PARLEY_MEDIA_BRIDGE)"';
    expect(describeFailure('Bob', 488, 'Incompatible SDP', 'outgoing', warning)).toMatch(/^Bob's phone cannot talk to a browser on this server.*Ask your administrator/);
  });

  it('keeps the general sentence for a 488 without that reason', () => {
    expect(describeFailure('Bob', 488, 'Incompatible SDP', 'outgoing')).toBe("Your device and Bob's could not agree on audio/video settings");
  });
});
