import { describe, expect, it } from 'vitest';
import { StreamFramer } from './streamFramer.js';

const msg = (body: string) => `MESSAGE sip:a@b SIP/2.0\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('StreamFramer (TCP framing by Content-Length)', () => {
  it('cuts messages that arrive split and glued together', () => {
    const f = new StreamFramer(65535);
    const stream = Buffer.from(msg('hello') + msg('world!'));
    const out = [...f.push(stream.subarray(0, 10)), ...f.push(stream.subarray(10, 60)), ...f.push(stream.subarray(60))];
    expect(out.map((o) => (o.kind === 'message' ? o.data.toString() : o.kind))).toEqual([msg('hello'), msg('world!')]);
  });

  it('answers the RFC 5626 double-CRLF keep-alive', () => {
    const f = new StreamFramer(65535);
    expect(f.push(Buffer.from('\r\n\r\n'))).toEqual([{ kind: 'ping' }]);
  });

  it('refuses a message larger than the limit and a bad Content-Length', () => {
    expect(new StreamFramer(100).push(Buffer.from(msg('x'.repeat(200))))).toEqual([{ kind: 'error', status: 513, reason: 'Message Too Large' }]);
    expect(new StreamFramer(100).push(Buffer.from('x'.repeat(200)))).toEqual([{ kind: 'error', status: 513, reason: 'Message Too Large' }]);
    expect(new StreamFramer(1000).push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nl: -5\r\n\r\n'))).toEqual([{ kind: 'error', status: 400, reason: 'Bad Content-Length' }]);
  });
});
