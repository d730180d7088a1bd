/**
 * SIP requests and responses as ordered header lists plus a body (RFC 3261 §7).
 *
 * Headers keep their order and the spelling they arrived with, so a proxy forwards what it
 * did not touch byte for byte. The headers a proxy reads on every message (Via, From, To,
 * Call-ID, CSeq) are parsed on first use and cached; mutating a header drops its cache entry.
 */
import crypto from 'node:crypto';
import { randomId } from '../../../../server-common/randomId.js';
import { canonicalHeaderName, reasonPhrase, splitOutside } from './grammar.js';
import { NameAddr, parseNameAddr } from './nameAddr.js';
import { parseUri, type Uri } from './uri.js';
import { parseVia, type Via } from './via.js';

export interface HeaderField {
  /** As written on the wire (compact forms expanded to the canonical spelling). */
  name: string;
  /** Lower-case full name, the key for lookups. */
  lname: string;
  value: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** Headers whose values are comma-separated lists (RFC 3261 §7.3.1). */
const LIST_HEADERS = new Set([
  'via',
  'route',
  'record-route',
  'contact',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'path',
]);

export abstract class SipMessage {
  headers: HeaderField[];
  body: Buffer;
  // Parsed forms of the headers a proxy reads on every message, computed on first use.
  #vias: Via[] | undefined;
  #cseq: CSeq | undefined;
  #from: NameAddr | undefined;
  #to: NameAddr | undefined;
  #contacts: NameAddr[] | undefined;
  #routes: NameAddr[] | undefined;
  #recordRoutes: NameAddr[] | undefined;

  constructor(headers: HeaderField[] = [], body: Buffer = EMPTY) {
    this.headers = headers;
    this.body = body;
  }

  abstract get isRequest(): boolean;
  protected abstract startLine(): string;

  get(lname: string): string | undefined {
    for (const h of this.headers) if (h.lname === lname) return h.value;
    return undefined;
  }

  getAll(lname: string): string[] {
    const out: string[] = [];
    for (const h of this.headers) if (h.lname === lname) out.push(h.value);
    return out;
  }

  has(lname: string): boolean {
    for (const h of this.headers) if (h.lname === lname) return true;
    return false;
  }

  /** Every element of a list header across all its fields. */
  list(lname: string): string[] {
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.lname !== lname) continue;
      if (LIST_HEADERS.has(lname) && h.value.includes(',')) {
        for (const part of splitOutside(h.value, ',')) if (part) out.push(part);
      } else out.push(h.value);
    }
    return out;
  }

  set(lname: string, value: string): this {
    this.remove(lname);
    this.headers.push({ name: canonicalHeaderName(lname), lname, value });
    return this;
  }

  append(lname: string, value: string): this {
    this.#invalidate(lname);
    this.headers.push({ name: canonicalHeaderName(lname), lname, value });
    return this;
  }

  /** Inserts before the first field of the same name (or at the top), e.g. a new Via or Record-Route. */
  prepend(lname: string, value: string): this {
    this.#invalidate(lname);
    const i = this.headers.findIndex((h) => h.lname === lname);
    this.headers.splice(i < 0 ? 0 : i, 0, { name: canonicalHeaderName(lname), lname, value });
    return this;
  }

  remove(lname: string): this {
    this.#invalidate(lname);
    this.headers = this.headers.filter((h) => h.lname !== lname);
    return this;
  }

  /** Removes the first element of a list header (e.g. the top Via or Route); returns it. */
  shift(lname: string): string | undefined {
    // Popping the top Via keeps the rest of the parsed list (every forwarded response does this).
    const rest = lname === 'via' && this.#vias ? this.#vias.slice(1) : undefined;
    this.#invalidate(lname);
    if (rest) this.#vias = rest;
    const i = this.headers.findIndex((h) => h.lname === lname);
    if (i < 0) return undefined;
    const parts = splitOutside(this.headers[i].value, ',');
    const first = parts.shift();
    if (parts.length === 0) this.headers.splice(i, 1);
    else this.headers[i] = { ...this.headers[i], value: parts.join(', ') };
    return first;
  }

  /** Replaces the first element of a list header, e.g. the top Via after adding received/rport. */
  replaceFirst(lname: string, value: string): this {
    this.#invalidate(lname);
    const i = this.headers.findIndex((h) => h.lname === lname);
    if (i < 0) return this.prepend(lname, value);
    const parts = splitOutside(this.headers[i].value, ',');
    parts[0] = value;
    this.headers[i] = { ...this.headers[i], value: parts.join(', ') };
    return this;
  }

  /** Rewrites the top Via from a modified parsed Via, keeping the parsed list (no re-parse). */
  replaceTopVia(via: Via): this {
    const vias = this.vias;
    this.replaceFirst('via', via.toString());
    vias[0] = via;
    this.#vias = vias;
    return this;
  }

  #invalidate(lname: string): void {
    switch (lname) {
      case 'via':
        this.#vias = undefined;
        break;
      case 'cseq':
        this.#cseq = undefined;
        break;
      case 'from':
        this.#from = undefined;
        break;
      case 'to':
        this.#to = undefined;
        break;
      case 'contact':
        this.#contacts = undefined;
        break;
      case 'route':
        this.#routes = undefined;
        break;
      case 'record-route':
        this.#recordRoutes = undefined;
        break;
    }
  }

  get vias(): Via[] {
    return (this.#vias ??= this.list('via').map(parseVia));
  }

  get topVia(): Via | undefined {
    return this.vias[0];
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): CSeq {
    return (this.#cseq ??= parseCSeq(this.get('cseq') ?? ''));
  }

  get from(): NameAddr {
    return (this.#from ??= parseNameAddr(this.get('from') ?? ''));
  }

  get to(): NameAddr {
    return (this.#to ??= parseNameAddr(this.get('to') ?? ''));
  }

  get contacts(): NameAddr[] {
    return (this.#contacts ??= this.list('contact')
      .filter((c) => c !== '*')
      .map(parseNameAddr));
  }

  get routes(): NameAddr[] {
    return (this.#routes ??= this.list('route').map(parseNameAddr));
  }

  get recordRoutes(): NameAddr[] {
    return (this.#recordRoutes ??= this.list('record-route').map(parseNameAddr));
  }

  toBuffer(): Buffer {
    let head = this.startLine() + '\r\n';
    for (const h of this.headers) {
      if (h.lname === 'content-length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    const headBuf = Buffer.from(head, 'utf8');
    return this.body.length ? Buffer.concat([headBuf, this.body]) : headBuf;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }

  protected copyHeadersFrom(other: SipMessage): HeaderField[] {
    return other.headers.map((h) => ({ ...h }));
  }
}

export class SipRequest extends SipMessage {
  #uri: string;
  #parsedUri: Uri | undefined;

  constructor(
    public method: string,
    uri: string,
    headers?: HeaderField[],
    body?: Buffer,
  ) {
    super(headers, body);
    this.#uri = uri;
  }

  get isRequest(): true {
    return true;
  }

  get uri(): string {
    return this.#uri;
  }

  set uri(value: string) {
    this.#uri = value;
    this.#parsedUri = undefined;
  }

  get parsedUri(): Uri {
    this.#parsedUri ??= parseUri(this.#uri);
    return this.#parsedUri;
  }

  protected startLine(): string {
    return `${this.method} ${this.#uri} SIP/2.0`;
  }

  clone(): SipRequest {
    return new SipRequest(this.method, this.#uri, this.copyHeadersFrom(this), this.body);
  }
}

export class SipResponse extends SipMessage {
  constructor(
    public status: number,
    public reason: string,
    headers?: HeaderField[],
    body?: Buffer,
  ) {
    super(headers, body);
  }

  get isRequest(): false {
    return false;
  }

  protected startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }

  clone(): SipResponse {
    return new SipResponse(this.status, this.reason, this.copyHeadersFrom(this), this.body);
  }
}

export const EMPTY = Buffer.alloc(0);

export class CSeqParseError extends Error {}

export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m) throw new CSeqParseError('malformed CSeq');
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) throw new CSeqParseError('CSeq number above 2**31-1');
  return { seq, method: m[2] };
}

/** Headers copied from a request into a response (RFC 3261 §8.2.6.2). */
const RESPONSE_COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

export interface ResponseOptions {
  reason?: string;
  /**
   * To tag to add when the request has none and status > 100. Random by default: a server
   * transaction repeats its stored response to retransmissions, so tags need not be derived.
   */
  toTag?: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  contentType?: string;
}

/** Builds a response to `req`, as a UAS or a stateful proxy answering on its own. */
export function createResponse(req: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const headers: HeaderField[] = [];
  for (const h of req.headers) if (RESPONSE_COPIED.has(h.lname)) headers.push({ ...h });
  const res = new SipResponse(status, options.reason ?? reasonPhrase(status), headers, options.body ?? EMPTY);
  if (status > 100 && req.has('to')) {
    let hasTag = false;
    try {
      hasTag = req.to.tag !== undefined;
    } catch {
      hasTag = true; // unparsable To: leave it as it came
    }
    if (!hasTag) {
      const i = res.headers.findIndex((h) => h.lname === 'to');
      res.headers[i] = { ...res.headers[i], value: `${res.headers[i].value};tag=${options.toTag ?? newTag()}` };
    }
  }
  if (status === 100) {
    const ts = req.get('timestamp');
    if (ts) res.append('timestamp', ts);
  }
  for (const [name, value] of options.headers ?? []) res.append(name.toLowerCase(), value);
  if (options.contentType) res.set('content-type', options.contentType);
  return res;
}

export function newBranch(): string {
  return `z9hG4bK${randomId(9)}`;
}

export function newTag(): string {
  return randomId(6);
}

export function newCallId(host: string): string {
  return `${randomId(12)}@${host}`;
}
