/**
 * SIP message parser (RFC 3261 §7, §25), hardened against the RFC 4475 torture messages.
 *
 * A message either parses completely — start line, every header, the headers a proxy must
 * read (Via, From, To, Call-ID, CSeq) and the body by Content-Length — or yields an error with
 * the status to answer (400, 505, 513) and, when the request line was readable, the partial
 * request so the caller can address that answer.
 */
import { isToken, normalizeHeaderName, canonicalHeaderName } from './grammar.js';
import { SipUri } from './uri.js';
import { EMPTY, SipRequest, SipResponse, type HeaderField, type SipMessage } from './message.js';

export interface ParseLimits {
  maxHeaders: number;
}

export type ParseResult =
  | { ok: true; message: SipRequest | SipResponse }
  | { ok: false; status: number; reason: string; partial?: SipRequest };

export const DEFAULT_LIMITS: ParseLimits = { maxHeaders: 128 };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const REQUIRED_REQUEST_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'] as const;
const REQUIRED_RESPONSE_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'] as const;

/** Locates the end of the header block: returns [headerEnd, bodyStart] or undefined. */
export function findHeaderEnd(buf: Buffer, from = 0): [number, number] | undefined {
  const i = buf.indexOf(CRLFCRLF, from);
  if (i >= 0) return [i, i + 4];
  const j = buf.indexOf(LFLF, from);
  if (j >= 0) return [j, j + 2];
  return undefined;
}

/**
 * Parses one message. `datagram` selects UDP rules (RFC 3261 §18.3): without Content-Length the
 * body is the rest of the datagram, and bytes beyond Content-Length are discarded. On streams the
 * framer has already cut the message at Content-Length.
 */
export function parseMessage(buf: Buffer, limits: ParseLimits = DEFAULT_LIMITS, datagram = true): ParseResult {
  // RFC 3261 §7.5: ignore CRLFs before the start line (also how keep-alives look).
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start >= buf.length) return { ok: false, status: 0, reason: 'empty' };

  const end = findHeaderEnd(buf, start);
  // A datagram without the blank line still has a header block that ends with the datagram.
  const headerEnd = end ? end[0] : buf.length;
  const bodyStart = end ? end[1] : buf.length;
  const headText = buf.toString('utf8', start, headerEnd);
  const lines = splitLines(headText);
  const startLine = lines[0];

  const isResponse = startLine.startsWith('SIP/');
  let req: SipRequest | undefined;
  let res: SipResponse | undefined;
  if (isResponse) {
    const m = /^SIP\/(\d+\.\d+) (\d{3})(?: (.*))?$/.exec(startLine);
    if (!m || m[1] !== '2.0') return { ok: false, status: 0, reason: 'bad status line' };
    const status = Number(m[2]);
    if (status < 100 || status > 699) return { ok: false, status: 0, reason: 'bad status code' };
    res = new SipResponse(status, m[3] ?? '');
  } else {
    // Not even shaped like a SIP request: drop it rather than answer (no reflecting of junk).
    if (!/^\S+ .* SIP\/\d+\.\d+\s*$/.test(startLine)) return { ok: false, status: 0, reason: 'not SIP' };
    const parts = startLine.split(' ');
    if (parts.length !== 3 || !isToken(parts[0]) || !parts[1]) {
      // Still try to read headers so the 400 can be addressed; the method may be unusable.
      const method = isToken(parts[0] ?? '') ? parts[0] : 'UNKNOWN';
      const partial = new SipRequest(method, parts[1] ?? '');
      readHeaders(lines, partial, limits);
      return { ok: false, status: 400, reason: 'Malformed Request-Line', partial };
    }
    req = new SipRequest(parts[0], parts[1]);
    if (!/^SIP\/\d+\.\d+$/i.test(parts[2])) {
      readHeaders(lines, req, limits);
      return { ok: false, status: 400, reason: 'Malformed SIP-Version', partial: req };
    }
    if (parts[2].toUpperCase() !== 'SIP/2.0') {
      readHeaders(lines, req, limits);
      return { ok: false, status: 505, reason: 'Version Not Supported', partial: req };
    }
  }
  const msg: SipMessage = (req ?? res)!;

  const headerError = readHeaders(lines, msg, limits);
  if (headerError) return fail(headerError.status, headerError.reason, req);

  // Body by Content-Length.
  const clValues = msg.getAll('content-length');
  let body: Buffer;
  if (clValues.length) {
    const distinct = new Set(clValues.map((v) => v.trim()));
    const cl = clValues[0].trim();
    if (distinct.size > 1 || !/^\d{1,10}$/.test(cl)) return fail(400, 'Bad Content-Length', req);
    const length = Number(cl);
    const available = buf.length - bodyStart;
    if (length > available) return fail(400, 'Content-Length exceeds message', req);
    body = length === 0 ? EMPTY : buf.subarray(bodyStart, bodyStart + length);
  } else {
    body = datagram && bodyStart < buf.length ? buf.subarray(bodyStart) : EMPTY;
  }
  msg.body = body;

  // The headers every SIP element must be able to read.
  const required = req ? REQUIRED_REQUEST_HEADERS : REQUIRED_RESPONSE_HEADERS;
  for (const name of required) {
    if (!msg.has(name)) return fail(400, `Missing ${canonicalHeaderName(name)} header`, req);
  }
  if (msg.getAll('call-id').length > 1 || msg.getAll('cseq').length > 1) return fail(400, 'Duplicate header', req);
  if (msg.getAll('from').length > 1 || msg.getAll('to').length > 1) return fail(400, 'Duplicate header', req);
  try {
    msg.vias;
  } catch {
    return fail(400, 'Malformed Via', req);
  }
  if (msg.vias.length === 0) return fail(400, 'Missing Via header', req);
  // A proxy forwards responses without reading From/To; only requests get those checked.
  if (req) {
    try {
      req.from;
    } catch {
      return fail(400, 'Malformed From', req);
    }
    try {
      req.to;
    } catch {
      return fail(400, 'Malformed To', req);
    }
  }
  let cseqMethod: string;
  try {
    cseqMethod = msg.cseq.method;
  } catch {
    return fail(400, 'Malformed CSeq', req);
  }
  if (!msg.callId.trim() || /\s/.test(msg.callId.trim())) return fail(400, 'Malformed Call-ID', req);

  if (req) {
    if (cseqMethod !== req.method) return fail(400, 'CSeq method does not match Request-Line', req);
    try {
      const uri = req.parsedUri;
      // RFC 4475 §3.1.2.11: header fields escaped into a Request-URI are not allowed.
      if (uri instanceof SipUri && uri.headers !== undefined) return fail(400, 'Headers in Request-URI', req);
    } catch {
      return fail(400, 'Malformed Request-URI', req);
    }
    const mf = req.get('max-forwards');
    if (mf !== undefined && (!/^\d{1,10}$/.test(mf.trim()) || Number(mf) > 255)) {
      return fail(400, 'Malformed Max-Forwards', req);
    }
    const expires = req.get('expires');
    if (expires !== undefined && !/^\d{1,10}$/.test(expires.trim())) return fail(400, 'Malformed Expires', req);
    return { ok: true, message: req };
  }
  return { ok: true, message: res! };
}

function fail(status: number, reason: string, partial?: SipRequest): ParseResult {
  // Responses that do not parse are dropped (status 0): there is nobody to answer.
  return partial ? { ok: false, status, reason, partial } : { ok: false, status: 0, reason };
}

function splitLines(text: string): string[] {
  const lines: string[] = [];
  let pos = 0;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) {
      lines.push(text.slice(pos));
      return lines;
    }
    lines.push(text.slice(pos, nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
    pos = nl + 1;
  }
}

/** Raw header name → [lower-case full name, name to write]; names repeat, so this saves work. */
const NAME_CACHE = new Map<string, [string, string]>();

function headerNames(rawName: string): [string, string] | undefined {
  let names = NAME_CACHE.get(rawName);
  if (names) return names;
  if (!isToken(rawName)) return undefined;
  const lname = normalizeHeaderName(rawName);
  names = [lname, rawName.length === 1 ? canonicalHeaderName(lname) : rawName];
  if (NAME_CACHE.size < 2000) NAME_CACHE.set(rawName, names);
  return names;
}

function readHeaders(lines: string[], msg: SipMessage, limits: ParseLimits): { status: number; reason: string } | undefined {
  const headers: HeaderField[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) {
      // Folded continuation line (RFC 3261 §7.3.1): joins the previous header with one space.
      const prev = headers[headers.length - 1];
      if (!prev) return { status: 400, reason: 'Continuation line without header' };
      prev.value = `${prev.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return { status: 400, reason: 'Malformed header line' };
    let nameEnd = colon;
    while (nameEnd > 0 && (line.charCodeAt(nameEnd - 1) === 32 || line.charCodeAt(nameEnd - 1) === 9)) nameEnd--;
    const names = headerNames(line.slice(0, nameEnd));
    if (!names) return { status: 400, reason: 'Malformed header name' };
    if (headers.length >= limits.maxHeaders) return { status: 513, reason: 'Too many headers' };
    headers.push({ name: names[1], lname: names[0], value: line.slice(colon + 1).trim() });
  }
  msg.headers = headers;
  return undefined;
}
