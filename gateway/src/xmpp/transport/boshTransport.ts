/**
 * XMPP over BOSH (XEP-0124, XEP-0206): long-polling HTTP. Each session keeps at most `hold`
 * requests waiting; stanzas for the client go out on a waiting request (or wait in a queue for
 * the next one), and requests are processed strictly in `rid` order.
 */
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Element } from 'ltx';
import { escapeXML, parse as parseXml } from 'ltx';
import type { Logger } from '../../../../server-common/logger.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { el, StreamError } from '../core/xml.js';
import type { StreamReceiver, StreamTransport } from './streamTransport.js';
import { XmlStreamParser } from './xmlStreamParser.js';

export interface BoshOptions {
  maxStanzaBytes: number;
  /** Longest time a request is held open (the client asks; we cap). */
  maxWaitSeconds: number;
  /** A session with no request for this long is gone. */
  inactivitySeconds: number;
  /** Other sites whose pages may call this endpoint (CORS); same-origin pages need no entry. */
  allowedOrigins: readonly string[];
  logger: Logger;
  createSession(transport: StreamTransport): void;
}

interface Waiting {
  res: ServerResponse;
  timer: NodeJS.Timeout;
  rid: number;
}

const MAX_BODY = 1024 * 1024;
const REQUESTS = 2;
const HOLD = 1;
const WINDOW = 10;

class BoshSession implements StreamTransport {
  readonly kind = 'bosh' as const;
  readonly canStartTls = false;
  readonly sid = crypto.randomBytes(16).toString('base64url');
  #receiver!: StreamReceiver;
  #queue: string[] = [];
  #waiting: Waiting[] = [];
  /** The highest rid processed; requests run in rid order. */
  lastRid: number;
  #pending = new Map<number, { body: Element; res: ServerResponse }>();
  #inactivity: NodeJS.Timeout | undefined;
  #terminated = false;
  /** While a request's payload is being handled, replies wait so they leave together. */
  #processing = false;
  #opened = false;
  #creationSent = false;
  #openAttrs: Record<string, string> | undefined;
  readonly #parser: XmlStreamParser;

  constructor(
    readonly remoteAddress: string,
    readonly secure: boolean,
    rid: number,
    readonly wait: number,
    private readonly o: BoshOptions,
    private readonly onGone: (s: BoshSession) => void,
  ) {
    this.lastRid = rid - 1; // the creation request (rid) is processed like any other
    this.#parser = new XmlStreamParser(
      {
        streamStart: () => {},
        element: (e) => this.#receiver.onElement(e),
        streamEnd: () => {},
        error: (err) => this.#receiver.onStreamError(err),
      },
      { maxStanzaBytes: o.maxStanzaBytes, fragments: true },
    );
    this.#touch();
  }

  setReceiver(receiver: StreamReceiver): void {
    this.#receiver = receiver;
  }

  openStream(attrs: { id: string; from: string; version: string; lang: string }, features: Element): void {
    this.#openAttrs = { authid: attrs.id, from: attrs.from };
    this.#queue.push(features.toString());
    this.#flush();
  }

  send(e: Element): void {
    if (e.name === 'message' || e.name === 'presence' || e.name === 'iq') e.attrs.xmlns ??= NS.client;
    this.#queue.push(e.toString());
    this.#flush();
  }

  closeStream(error?: Element): void {
    if (this.#terminated) return;
    this.#terminated = true;
    const body = el('body', { xmlns: NS.bosh, type: 'terminate', 'xmlns:stream': NS.stream, condition: error ? 'remote-stream-error' : undefined });
    for (const q of this.#queue) body.cnode(parseXml(q) as Element);
    if (error) body.cnode(error);
    this.#queue = [];
    const w = this.#waiting.shift();
    if (w) this.#respond(w, body.toString());
    for (const rest of this.#waiting.splice(0)) this.#respond(rest, el('body', { xmlns: NS.bosh, type: 'terminate' }).toString());
    this.#end();
  }

  restartStream(): void {
    // The client signals the restart with xmpp:restart="true" on its next request.
  }

  /** A request carrying this session's sid. */
  request(body: Element, res: ServerResponse): void {
    if (this.#terminated) {
      res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8' });
      res.end(el('body', { xmlns: NS.bosh, type: 'terminate', condition: 'item-not-found' }).toString());
      return;
    }
    this.#touch();
    const rid = Number(body.attrs.rid);
    if (!Number.isSafeInteger(rid) || rid <= this.lastRid - WINDOW || rid > this.lastRid + WINDOW) {
      this.#terminateWith(res, 'item-not-found');
      return;
    }
    if (rid <= this.lastRid) {
      // A retransmission of a request already answered: answer empty (we keep no copies).
      res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8' });
      res.end(el('body', { xmlns: NS.bosh }).toString());
      return;
    }
    this.#pending.set(rid, { body, res });
    while (this.#pending.has(this.lastRid + 1)) {
      const next = this.#pending.get(this.lastRid + 1)!;
      this.#pending.delete(this.lastRid + 1);
      this.lastRid++;
      this.#process(next.body, next.res, this.lastRid);
    }
  }

  #process(body: Element, res: ServerResponse, rid: number): void {
    const w: Waiting = { res, rid, timer: setTimeout(() => this.#timeout(w), this.wait * 1000) };
    this.#waiting.push(w);
    res.on('close', () => {
      clearTimeout(w.timer);
      this.#waiting = this.#waiting.filter((x) => x !== w);
    });
    this.#processing = true;
    try {
      if (!this.#opened || body.attrs['xmpp:restart'] === 'true') {
        this.#opened = true;
        this.#receiver.onStreamOpen({ to: body.attrs.to ?? '', version: '1.0' });
      }
      for (const c of body.children) {
        if (typeof c === 'string') continue;
        this.#parser.write(c.toString());
      }
    } finally {
      this.#processing = false;
    }
    if (body.attrs.type === 'terminate') {
      this.#receiver.onStreamClose();
      return;
    }
    // Hold at most HOLD requests: answer older ones (empty if nothing to send).
    while (this.#waiting.length > HOLD) this.#respond(this.#waiting.shift()!, this.#takeBody());
    this.#flush();
  }

  #flush(): void {
    if (this.#processing || !this.#queue.length || !this.#waiting.length) return;
    this.#respond(this.#waiting.shift()!, this.#takeBody());
  }

  #takeBody(): string {
    let attrs: Record<string, string> = { xmlns: NS.bosh };
    if (!this.#creationSent && this.#openAttrs) {
      this.#creationSent = true;
      attrs = { ...attrs, ...this.creationAttrs() };
    }
    if (this.#queue.some((q) => q.startsWith('<stream:'))) attrs['xmlns:stream'] = NS.stream;
    const inner = this.#queue.join('');
    this.#queue = [];
    const open = Object.entries(attrs)
      .map(([k, v]) => ` ${k}='${escapeXML(v)}'`)
      .join('');
    return `<body${open}>${inner}</body>`;
  }

  #timeout(w: Waiting): void {
    if (!this.#waiting.includes(w)) return;
    this.#waiting = this.#waiting.filter((x) => x !== w);
    this.#respond(w, this.#takeBody());
  }

  #respond(w: Waiting, body: string): void {
    clearTimeout(w.timer);
    if (w.res.writableEnded) return;
    w.res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8', 'Cache-Control': 'no-store' });
    w.res.end(body);
  }

  #terminateWith(res: ServerResponse, condition: string): void {
    res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8' });
    res.end(el('body', { xmlns: NS.bosh, type: 'terminate', condition }).toString());
    this.#terminated = true;
    this.#end();
  }

  #touch(): void {
    clearTimeout(this.#inactivity);
    this.#inactivity = setTimeout(() => {
      if (this.#waiting.length) return this.#touch();
      this.#terminated = true;
      this.#end();
    }, (this.o.inactivitySeconds + this.wait) * 1000);
    this.#inactivity.unref();
  }

  #end(): void {
    clearTimeout(this.#inactivity);
    for (const w of this.#waiting.splice(0)) clearTimeout(w.timer);
    this.onGone(this);
    this.#receiver?.onTransportClosed();
  }

  /** The session-creation response attributes (XEP-0124 §7.1, XEP-0206). */
  creationAttrs(): Record<string, string> {
    return {
      sid: this.sid,
      wait: String(this.wait),
      requests: String(REQUESTS),
      hold: String(HOLD),
      inactivity: String(this.o.inactivitySeconds),
      polling: '2',
      maxpause: '120',
      ver: '1.11',
      from: this.#openAttrs?.from ?? '',
      authid: this.#openAttrs?.authid ?? '',
      secure: this.secure ? 'true' : 'false',
      'xmpp:version': '1.0',
      'xmlns:xmpp': NS.xbosh,
      'xmlns:stream': NS.stream,
    };
  }
}

export class BoshServer {
  readonly #sessions = new Map<string, BoshSession>();

  constructor(private readonly o: BoshOptions) {}

  get size(): number {
    return this.#sessions.size;
  }

  async handle(req: IncomingMessage, res: ServerResponse, remoteAddress: string, secure: boolean): Promise<void> {
    // CORS (a web XMPP client on another site): allowed origins get the headers, others none,
    // so their browsers refuse. No credentials: BOSH authenticates in the stream (SASL).
    const origin = req.headers.origin;
    const allowed = origin !== undefined && this.o.allowedOrigins.includes(origin);
    res.setHeader('Vary', 'Origin');
    if (allowed) res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method === 'OPTIONS') {
      if (allowed) {
        res.writeHead(204, {
          Allow: 'POST, OPTIONS',
          'Access-Control-Allow-Methods': 'POST, OPTIONS',
          'Access-Control-Allow-Headers': 'Content-Type',
          'Access-Control-Max-Age': '86400',
        });
      } else {
        res.writeHead(origin === undefined ? 204 : 403, { Allow: 'POST, OPTIONS' });
      }
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain' });
      res.end('BOSH endpoint: POST XEP-0124 <body/> elements here');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > Math.max(MAX_BODY, this.o.maxStanzaBytes * 2)) {
        res.writeHead(413);
        res.end();
        return;
      }
      chunks.push(c as Buffer);
    }
    let body: Element;
    try {
      body = parseBody(UTF8.decode(Buffer.concat(chunks)));
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'text/xml; charset=utf-8' });
      res.end(el('body', { xmlns: NS.bosh, type: 'terminate', condition: 'bad-request' }).toString());
      this.o.logger.debug({ err: (err as Error).message }, 'BOSH: bad body');
      return;
    }
    const sid = body.attrs.sid;
    if (sid) {
      const session = this.#sessions.get(sid);
      if (!session) {
        res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8' });
        res.end(el('body', { xmlns: NS.bosh, type: 'terminate', condition: 'item-not-found' }).toString());
        return;
      }
      session.request(body, res);
      return;
    }
    // Session creation.
    const rid = Number(body.attrs.rid);
    const wait = Math.min(this.o.maxWaitSeconds, Math.max(1, Number(body.attrs.wait) || this.o.maxWaitSeconds));
    if (!Number.isSafeInteger(rid)) {
      res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8' });
      res.end(el('body', { xmlns: NS.bosh, type: 'terminate', condition: 'bad-request' }).toString());
      return;
    }
    const session = new BoshSession(remoteAddress, secure, rid, wait, this.o, (s) => this.#sessions.delete(s.sid));
    this.#sessions.set(session.sid, session);
    this.o.createSession(session);
    // The creation request is the first held request: it carries the session attributes and,
    // once the stream is open, the stream features.
    session.request(body, res);
  }

  close(): void {
    for (const s of [...this.#sessions.values()]) s.closeStream(el('stream:error', {}, el('system-shutdown', { xmlns: 'urn:ietf:params:xml:ns:xmpp-streams' })));
  }
}

/** Strict: a body that is not UTF-8 is a bad request, not text with U+FFFD in it. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function parseBody(text: string): Element {
  const e = parseXml(text) as Element;
  if (e.name !== 'body' || e.attrs.xmlns !== NS.bosh) throw new StreamError('bad-format', 'not a BOSH body');
  return e;
}
