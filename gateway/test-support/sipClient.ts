/**
 * A minimal SIP user agent for tests: real UDP or TCP sockets, raw messages, digest
 * responses computed independently of the gateway's code (RFC 7616 by hand).
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket } from 'ws';

export interface ReceivedMessage {
  text: string;
  startLine: string;
  status?: number;
  method?: string;
  header(name: string): string | undefined;
  headers(name: string): string[];
  body: string;
}

export function parseReceived(text: string): ReceivedMessage {
  const [head, ...rest] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const startLine = lines[0];
  const m = /^SIP\/2\.0 (\d{3})/.exec(startLine);
  const all = (name: string) => {
    const re = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'i');
    return lines.slice(1).map((l) => re.exec(l)?.[1]).filter((v): v is string => v !== undefined);
  };
  return {
    text,
    startLine,
    status: m ? Number(m[1]) : undefined,
    method: m ? undefined : startLine.split(' ')[0],
    header: (name) => all(name)[0],
    headers: all,
    body: rest.join('\r\n\r\n'),
  };
}

let counter = 0;
export const uid = (prefix = '') => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${crypto.randomBytes(3).toString('hex')}`;

export type Transport = 'udp' | 'tcp' | 'tls' | 'ws';

export class SipClient {
  readonly inbox: ReceivedMessage[] = [];
  #waiters: Array<{ pred: (m: ReceivedMessage) => boolean; resolve: (m: ReceivedMessage) => void }> = [];
  #udp?: dgram.Socket;
  #tcp?: net.Socket;
  #ws?: WebSocket;
  /** The certificate the server presented (TLS). */
  peerCertificate?: tls.PeerCertificate;
  #tcpBuf = '';
  #closed = false;
  port = 0;

  private constructor(
    readonly transport: Transport,
    readonly serverPort: number,
    readonly user: string,
    readonly domain = 'localhost',
  ) {}

  /** A browser-like client: SIP over WebSocket to the gateway's /sip (RFC 7118), contact host `<random>.invalid`. */
  static async openWebSocket(httpPort: number, user: string): Promise<SipClient> {
    const c = new SipClient('ws', httpPort, user);
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/sip`, 'sip');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (d) => c.#deliver(d.toString()));
    c.#ws = ws;
    return c;
  }

  static async open(serverPort: number, user: string, transport: Transport = 'udp'): Promise<SipClient> {
    const c = new SipClient(transport, serverPort, user);
    if (transport === 'udp') {
      const s = dgram.createSocket('udp4');
      s.on('message', (d) => c.#deliver(d.toString('utf8')));
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      c.#udp = s;
      c.port = s.address().port;
    } else if (transport === 'tls') {
      // The gateway's certificate is self-signed in tests; tests compare it with the file instead.
      const s = tls.connect({ port: serverPort, host: '127.0.0.1', rejectUnauthorized: false });
      await new Promise<void>((r, j) => {
        s.once('secureConnect', () => r());
        s.once('error', j);
      });
      c.peerCertificate = s.getPeerCertificate();
      s.on('data', (d) => c.#onTcpData(d.toString('utf8')));
      c.#tcp = s;
      c.port = s.localPort ?? 0;
    } else {
      const s = net.connect(serverPort, '127.0.0.1');
      await new Promise<void>((r, j) => {
        s.once('connect', () => r());
        s.once('error', j);
      });
      s.on('data', (d) => c.#onTcpData(d.toString('utf8')));
      c.#tcp = s;
      c.port = s.localPort ?? 0;
    }
    return c;
  }

  get via(): string {
    if (this.transport === 'ws') return `SIP/2.0/WS ${this.user}-ua.invalid;branch=z9hG4bK${uid()}`;
    return `SIP/2.0/${this.transport.toUpperCase()} 127.0.0.1:${this.port};branch=z9hG4bK${uid()};rport`;
  }

  get contact(): string {
    if (this.transport === 'ws') return `<sip:${this.user}@${this.user}-ua.invalid;transport=ws>`;
    return `<sip:${this.user}@127.0.0.1:${this.port}${this.transport === 'tcp' || this.transport === 'tls' ? `;transport=${this.transport}` : ''}>`;
  }

  send(text: string | Buffer): void {
    const data = typeof text === 'string' ? Buffer.from(text) : text;
    if (this.#udp) this.#udp.send(data, this.serverPort, '127.0.0.1');
    else if (this.#ws) this.#ws.send(data.toString('utf8'));
    else this.#tcp!.write(data);
  }

  /** Resolves with the first message (already received or future) matching `pred`. */
  waitFor(pred: (m: ReceivedMessage) => boolean, timeoutMs = 5000, what = 'a message'): Promise<ReceivedMessage> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (m: ReceivedMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.user}: timed out waiting for ${what}; inbox: ${this.inbox.map((m) => m.startLine).join(' | ')}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  response(callId: string, method: string, status?: number, timeoutMs?: number): Promise<ReceivedMessage> {
    return this.waitFor(
      (m) => m.status !== undefined && m.status >= (status === undefined ? 101 : status) && (status === undefined || m.status === status) && m.header('Call-ID') === callId && (m.header('CSeq') ?? '').endsWith(method),
      timeoutMs,
      `${status ?? 'final'} to ${method} ${callId}`,
    );
  }

  /** The next final (>= 200) response for a Call-ID and method. */
  final(callId: string, method: string, timeoutMs?: number): Promise<ReceivedMessage> {
    return this.waitFor(
      (m) => (m.status ?? 0) >= 200 && m.header('Call-ID') === callId && (m.header('CSeq') ?? '').endsWith(` ${method}`),
      timeoutMs,
      `final response to ${method} (${callId})`,
    );
  }

  request(method: string, timeoutMs?: number): Promise<ReceivedMessage> {
    return this.waitFor((m) => m.method === method, timeoutMs, `a ${method} request`);
  }

  /** Answers a received request with `status`, copying the headers RFC 3261 §8.2.6 asks for. */
  reply(req: ReceivedMessage, status: number, reason: string, extra: string[] = [], body = ''): void {
    const to = req.header('To') ?? '';
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...req.headers('Via').map((v) => `Via: ${v}`),
      ...req.headers('Record-Route').map((v) => `Record-Route: ${v}`),
      `From: ${req.header('From')}`,
      `To: ${/;tag=/.test(to) || status === 100 ? to : `${to};tag=${this.user}-tag`}`,
      `Call-ID: ${req.header('Call-ID')}`,
      `CSeq: ${req.header('CSeq')}`,
      ...(status >= 200 && status < 300 && req.method === 'INVITE' ? [`Contact: ${this.contact}`] : []),
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    this.send(lines.join('\r\n'));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#udp?.close();
    this.#tcp?.destroy();
    this.#ws?.terminate();
  }

  #onTcpData(chunk: string): void {
    this.#tcpBuf += chunk;
    for (;;) {
      const end = this.#tcpBuf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = /^content-length\s*:\s*(\d+)/im.exec(this.#tcpBuf.slice(0, end));
      const total = end + 4 + (cl ? Number(cl[1]) : 0);
      if (this.#tcpBuf.length < total) return;
      this.#deliver(this.#tcpBuf.slice(0, total));
      this.#tcpBuf = this.#tcpBuf.slice(total);
    }
  }

  #deliver(text: string): void {
    if (!text.trim()) return;
    const m = parseReceived(text);
    const w = this.#waiters.find((x) => x.pred(m));
    if (w) {
      this.#waiters = this.#waiters.filter((x) => x !== w);
      w.resolve(m);
    } else this.inbox.push(m);
  }
}

/** Picks the challenge for `algorithm` from a 401/407 and answers it (RFC 7616 §3.4). */
export function digestAuthorization(
  challengeResponse: ReceivedMessage,
  opts: { username: string; password: string; method: string; uri: string; algorithm?: 'MD5' | 'SHA-256'; nc?: number },
): string {
  const algorithm = opts.algorithm ?? 'MD5';
  const header = challengeResponse.status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
  const challenge = challengeResponse.headers(header).find((h) => new RegExp(`algorithm=${algorithm}(,|$|\\s)`).test(h));
  if (!challenge) throw new Error(`no ${algorithm} challenge in ${challengeResponse.text}`);
  const param = (k: string) => new RegExp(`${k}="?([^",]+)"?`).exec(challenge)?.[1] ?? '';
  const realm = param('realm');
  const nonce = param('nonce');
  const opaque = param('opaque');
  const h = (s: string) => crypto.createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
  const nc = (opts.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = crypto.randomBytes(6).toString('hex');
  const ha1 = h(`${opts.username}:${realm}:${opts.password}`);
  const ha2 = h(`${opts.method}:${opts.uri}`);
  const response = h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  const name = challengeResponse.status === 407 ? 'Proxy-Authorization' : 'Authorization';
  return `${name}: Digest username="${opts.username}", realm="${realm}", nonce="${nonce}", uri="${opts.uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}", opaque="${opaque}"`;
}

export interface RequestOptions {
  method: string;
  uri: string;
  from: string;
  fromTag?: string;
  to: string;
  toTag?: string;
  callId: string;
  cseq: number;
  via?: string;
  contact?: string;
  extra?: string[];
  body?: string;
  maxForwards?: number;
}

export function buildRequest(c: SipClient, o: RequestOptions): string {
  const lines = [
    `${o.method} ${o.uri} SIP/2.0`,
    `Via: ${o.via ?? c.via}`,
    `Max-Forwards: ${o.maxForwards ?? 70}`,
    `From: <sip:${o.from}@localhost>;tag=${o.fromTag ?? 'ft' + o.callId.slice(0, 8)}`,
    `To: <sip:${o.to}@localhost>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    ...(o.contact ? [`Contact: ${o.contact}`] : []),
    ...(o.extra ?? []),
    ...(o.body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(o.body ?? '')}`,
    '',
    o.body ?? '',
  ];
  return lines.join('\r\n');
}

export const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

/** Registers `c.user` (contact = this client) with MD5 digest; returns the 200 OK. */
export async function register(c: SipClient, password: string, opts: { expires?: number; contact?: string; extra?: string[]; algorithm?: 'MD5' | 'SHA-256' } = {}): Promise<ReceivedMessage> {
  const callId = uid('reg-');
  const base = {
    method: 'REGISTER',
    uri: 'sip:localhost',
    from: c.user,
    to: c.user,
    callId,
    contact: opts.contact ?? c.contact,
    extra: [`Expires: ${opts.expires ?? 600}`, ...(opts.extra ?? [])],
  };
  c.send(buildRequest(c, { ...base, cseq: 1 }));
  const challenge = await c.final(callId, 'REGISTER');
  if (challenge.status !== 401) throw new Error(`expected 401, got ${challenge.startLine}`);
  const auth = digestAuthorization(challenge, { username: c.user, password, method: 'REGISTER', uri: 'sip:localhost', algorithm: opts.algorithm });
  c.send(buildRequest(c, { ...base, cseq: 2, extra: [...base.extra, auth] }));
  return c.final(callId, 'REGISTER');
}

/**
 * Sends an out-of-dialog request the way a UA does: without credentials first, ACKs the 407
 * for INVITE, then again with a Proxy-Authorization. Returns the options used (for later CANCEL).
 */
export async function authedRequest(c: SipClient, o: Omit<RequestOptions, 'cseq' | 'via'> & { password: string }): Promise<RequestOptions> {
  const via1 = c.via;
  c.send(buildRequest(c, { ...o, cseq: 1, via: via1 }));
  const challenge = await c.final(o.callId, o.method);
  if (challenge.status !== 407) throw new Error(`expected 407, got ${challenge.startLine}`);
  if (o.method === 'INVITE') {
    c.send(buildRequest(c, { ...o, method: 'ACK', cseq: 1, via: via1, toTag: /tag=([^;]+)/.exec(challenge.header('To') ?? '')?.[1], body: undefined, contact: undefined }));
  }
  const auth = digestAuthorization(challenge, { username: c.user, password: o.password, method: o.method, uri: o.uri });
  const second: RequestOptions = { ...o, cseq: 2, via: c.via, extra: [...(o.extra ?? []), auth] };
  c.send(buildRequest(c, second));
  return second;
}

/** ACK/BYE inside the dialog a 200 OK set up (route set = reversed Record-Route). */
export function inDialog(c: SipClient, ok: ReceivedMessage, method: 'ACK' | 'BYE', cseq: number, fromTag: string): string {
  const route = ok.headers('Record-Route').flatMap((h) => h.split(/,\s*(?=<)/)).reverse();
  const target = /<([^>]+)>/.exec(ok.header('Contact') ?? '')![1];
  const toTag = /tag=([^;]+)/.exec(ok.header('To')!)![1];
  return buildRequest(c, {
    method,
    uri: target,
    from: c.user,
    fromTag,
    to: /sip:([^@]+)@/.exec(ok.header('To')!)![1],
    toTag,
    callId: ok.header('Call-ID')!,
    cseq,
    extra: route.length ? [`Route: ${route.join(', ')}`] : [],
  });
}

