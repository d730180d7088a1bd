import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMessage } from './parser.js';
import { SipRequest, SipResponse, createResponse } from './message.js';
import { SipUri } from './uri.js';
import { sharedPath } from '../../../test-support/shared.js';

const TORTURE_DIR = sharedPath('sip-torture', 'messages') ?? '';
const hasTorture = TORTURE_DIR !== '';

function parse(text: string) {
  return parseMessage(Buffer.from(text.replace(/\n/g, '\r\n')));
}

describe('SIP parser', () => {
  it('parses a request with folded headers, compact forms and multi-value Via', () => {
    const r = parse(
      [
        'INVITE sip:bob@localhost SIP/2.0',
        'v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa,',
        ' SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKb',
        'f: "Alice" <sip:alice@localhost>;tag=1',
        't: <sip:bob@localhost>',
        'i: abc@10.0.0.1',
        'CSeq: 1',
        '  INVITE',
        'Max-Forwards: 70',
        'l: 4',
        '',
        'v=0\r\n',
      ].join('\n'),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const req = r.message as SipRequest;
    expect(req.method).toBe('INVITE');
    expect(req.vias.map((v) => v.branch)).toEqual(['z9hG4bKa', 'z9hG4bKb']);
    expect(req.vias[1].transport).toBe('TCP');
    expect(req.from.tag).toBe('1');
    expect(req.from.displayName).toBe('"Alice"');
    expect(req.cseq).toEqual({ seq: 1, method: 'INVITE' });
    expect(req.body.toString()).toBe('v=0\r');
    expect(req.get('call-id')).toBe('abc@10.0.0.1');
  });

  it('serializes with canonical names and a correct Content-Length', () => {
    const r = parse('MESSAGE sip:bob@localhost SIP/2.0\nv: SIP/2.0/UDP h;branch=z9hG4bK1\nf: <sip:a@h>;tag=1\nt: <sip:bob@localhost>\ni: x\nCSeq: 2 MESSAGE\nl: 2\n\nhi');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const text = r.message.toString();
    expect(text).toContain('\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n');
    expect(text).toContain('\r\nCall-ID: x\r\n');
    expect(text.endsWith('Content-Length: 2\r\n\r\nhi')).toBe(true);
  });

  it('truncates a datagram body at Content-Length and rejects one that is too short', () => {
    const base = 'OPTIONS sip:localhost SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:localhost>\nCall-ID: x\nCSeq: 2 OPTIONS\n';
    const ok = parse(`${base}Content-Length: 2\n\nhello`);
    expect(ok.ok && ok.message.body.toString()).toBe('he');
    const bad = parse(`${base}Content-Length: 20\n\nhello`);
    expect(bad).toMatchObject({ ok: false, status: 400 });
  });

  it.each([
    ['missing Call-ID', 'OPTIONS sip:localhost SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:localhost>\nCSeq: 2 OPTIONS\n\n', 400, /Call-ID/],
    ['missing CSeq', 'OPTIONS sip:localhost SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:localhost>\nCall-ID: x\n\n', 400, /CSeq/],
    ['missing Via', 'OPTIONS sip:localhost SIP/2.0\nFrom: <sip:a@h>;tag=1\nTo: <sip:localhost>\nCall-ID: x\nCSeq: 2 OPTIONS\n\n', 400, /Via/],
    ['wrong version', 'OPTIONS sip:localhost SIP/3.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:localhost>\nCall-ID: x\nCSeq: 2 OPTIONS\n\n', 505, /Version/],
  ])('rejects a request with %s', (_name, text, status, reason) => {
    const r = parse(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(status);
    expect(r.reason).toMatch(reason);
    expect(r.partial).toBeInstanceOf(SipRequest);
  });

  it('enforces the header count limit with 513', () => {
    const many = Array.from({ length: 50 }, (_, i) => `X-H${i}: v`).join('\n');
    const r = parseMessage(
      Buffer.from(`OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n${many.replace(/\n/g, '\r\n')}\r\n\r\n`),
      { maxHeaders: 20 },
    );
    expect(r).toMatchObject({ ok: false, status: 513 });
  });

  it('adds a To tag to responses above 100 when the request has none', () => {
    const r = parse('INVITE sip:bob@localhost SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:bob@localhost>\nCall-ID: x\nCSeq: 1 INVITE\n\n');
    if (!r.ok) throw new Error(r.reason);
    const a = createResponse(r.message as SipRequest, 486);
    expect(a.to.tag).toMatch(/^[\w-]{8}$/);
    expect(createResponse(r.message as SipRequest, 100).to.tag).toBeUndefined();
  });
});

/**
 * RFC 4475 torture messages, byte-exact. The expectations follow the RFC's text for each
 * message; the ones that are about application behaviour (unknown schemes, Require, zero
 * Max-Forwards …) must parse here and are answered by the proxy (see proxy tests).
 */
describe.skipIf(!hasTorture)('RFC 4475 torture messages', () => {
  const valid = [
    'wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri',
    'transports', 'mpart01', 'unreason', 'noreason', 'badbranch', 'unkscm', 'novelsc', 'unksm2', 'bext01', 'invut', 'regaut01', 'bcast', 'zeromf', 'cparam01',
    'cparam02', 'regescrt', 'sdp01', 'inv2543', 'baddate', 'regbadct',
  ];
  const invalid: Array<[string, number]> = [
    ['badinv01', 400], ['clerr', 400], ['ncl', 400], ['scalar02', 400], ['quotbal', 400],
    ['ltgtruri', 400], ['lwsruri', 400], ['lwsstart', 400], ['trws', 400], ['escruri', 400],
    ['badaspec', 400], ['baddn', 400], ['badvers', 505], ['mismatch01', 400], ['mismatch02', 400],
    ['insuf', 400], ['multi01', 400], ['mcl01', 400],
    // Responses that cannot be parsed are dropped: status 0.
    ['scalarlg', 0], ['bigcode', 0],
  ];
  const read = (n: string) => fs.readFileSync(path.join(TORTURE_DIR, `${n}.dat`));

  it.each(valid)('accepts %s', (name) => {
    const r = parseMessage(read(name));
    expect(r.ok ? 'ok' : `${r.status} ${r.reason}`).toBe('ok');
  });

  it.each(invalid)('rejects %s with %i', (name, status) => {
    const r = parseMessage(read(name));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.status).toBe(status);
  });

  it('reads the unusual but valid values of wsinv and esc01 correctly', () => {
    const ws = parseMessage(read('wsinv'));
    if (!ws.ok) throw new Error(ws.reason);
    expect(ws.message.vias.map((v) => v.transport)).toEqual(['UDP', 'TCP', 'UDP']);
    expect(ws.message.get('max-forwards')).toBe('0068');
    expect(ws.message.to.tag).toBe('1918181833n');
    const esc = parseMessage(read('esc01'));
    if (!esc.ok) throw new Error(esc.reason);
    const uri = (esc.message as SipRequest).parsedUri as SipUri;
    expect(uri.userUnescaped).toBe('sips:user@example.com');
  });

  it('classifies every message of the archive', () => {
    const all = fs.readdirSync(TORTURE_DIR).map((f) => f.replace(/\.dat$/, ''));
    const covered = new Set([...valid, ...invalid.map(([n]) => n)]);
    expect(all.filter((n) => !covered.has(n))).toEqual([]);
  });

  it('parses responses among them as responses', () => {
    const r = parseMessage(read('unreason'));
    expect(r.ok && r.message).toBeInstanceOf(SipResponse);
  });
});
