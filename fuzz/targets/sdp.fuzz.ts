/**
 * Fuzz target: session descriptions (RFC 8866) as calls carry them — the parser may refuse
 * input with SdpParseError, nothing else; what it accepts must format to text that parses to
 * the same description, and classifying its media must not fail.
 */
import { formatSdp, hasVideo, mediaProfile, parseSdp, SdpParseError, type SessionDescription } from '../../gateway/src/sip/sdp/sessionDescription.js';

export function fuzz(data: Buffer): void {
  let sd: SessionDescription;
  try {
    sd = parseSdp(data.toString('utf8'));
  } catch (err) {
    if (err instanceof SdpParseError) return;
    throw err;
  }
  for (const m of sd.media) mediaProfile(sd, m);
  hasVideo(sd);
  const text = formatSdp(sd);
  const again = parseSdp(text);
  if (formatSdp(again) !== text) throw new Error('formatting a parsed description is not stable');
}
