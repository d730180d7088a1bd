/** Browser answers take the DTLS server role, whatever the browser proposed. */
import { describe, expect, it } from 'vitest';
import { asDtlsServerAnswer } from './dtlsRole';

const answer = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=setup:active', 'a=mid:0', ''].join('\r\n');

describe('DTLS role of browser answers', () => {
  it('turns an active answer passive and leaves every other line alone', () => {
    const out = asDtlsServerAnswer(answer);
    expect(out).toBe(answer.replace('a=setup:active\r\n', 'a=setup:passive\r\n'));
    expect(asDtlsServerAnswer(answer + 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=setup:active\r\n').match(/a=setup:passive/g)).toHaveLength(2);
  });

  it('leaves passive answers and actpass offers as they are', () => {
    const offer = answer.replace('a=setup:active', 'a=setup:actpass');
    expect(asDtlsServerAnswer(offer)).toBe(offer);
    const passive = answer.replace('a=setup:active', 'a=setup:passive');
    expect(asDtlsServerAnswer(passive)).toBe(passive);
  });
});
