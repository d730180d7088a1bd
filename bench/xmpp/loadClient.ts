/**
 * A lean XMPP load client for benchmarks: raw TCP or WebSocket, SCRAM-SHA-1 by hand (salted
 * passwords cached per user, as real clients cache them), and just enough stream parsing to
 * find messages and presences by regular expression. It is deliberately cheap, so that the
 * server — not the load generator — is what gets measured.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';

const saltedCache = new Map<string, Buffer>();

/** Pre-computes a user's SCRAM-SHA-1 salted password (a real client keeps it from the last login). */
export async function primeSaltedPassword(username: string, password: string, saltB64: string, iterations: number): Promise<void> {
  const salted = await new Promise<Buffer>((resolve, reject) =>
    crypto.pbkdf2(password, Buffer.from(saltB64, 'base64'), iterations, 20, 'sha1', (err, key) => (err ? reject(err) : resolve(key))),
  );
  saltedCache.set(`${username}:${saltB64}:${iterations}`, salted);
}

export interface LoadClientOptions {
  transport: 'tcp' | 'ws';
  port: number;
  username: string;
  password: string;
  resource: string;
}

export class LoadClient {
  #buf = '';
  #write!: (s: string) => void;
  #close!: () => void;
  #waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
  onMessage: ((body: string, from: string, id: string | undefined) => void) | undefined;
  onPresence: ((from: string) => void) | undefined;
  /** A delivery receipt (XEP-0184) for the message with this id. */
  onReceipt: ((id: string) => void) | undefined;
  jid = '';

  private constructor(private readonly o: LoadClientOptions) {}

  static async connect(o: LoadClientOptions): Promise<LoadClient> {
    const c = new LoadClient(o);
    await c.#open();
    await c.#login();
    return c;
  }

  async #open(): Promise<void> {
    if (this.o.transport === 'tcp') {
      const s = net.connect(this.o.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('error', reject);
      });
      s.setNoDelay(true);
      s.setEncoding('utf8');
      s.on('data', (d: string) => this.#onData(d));
      s.on('error', () => {});
      this.#write = (d) => void s.write(d);
      this.#close = () => s.destroy();
    } else {
      const ws = new WebSocket(`ws://127.0.0.1:${this.o.port}/xmpp`, 'xmpp');
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.on('message', (d) => this.#onData(d.toString()));
      ws.on('error', () => {});
      this.#write = (d) => ws.send(d);
      this.#close = () => ws.terminate();
    }
  }

  #openStream(): void {
    if (this.o.transport === 'tcp') this.#write(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    else this.#write(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`);
  }

  async #login(): Promise<void> {
    const { username, password } = this.o;
    this.#openStream();
    await this.#expect(/<\/stream:features>/);
    const cnonce = crypto.randomBytes(9).toString('base64');
    const first = `n=${username},r=${cnonce}`;
    this.#send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from(`n,,${first}`).toString('base64')}</auth>`);
    const ch = await this.#expect(/<challenge[^>]*>([^<]+)<\/challenge>/);
    const serverFirst = Buffer.from(ch[1], 'base64').toString();
    const a = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
    const key = `${username}:${a.s}:${a.i}`;
    let salted = saltedCache.get(key);
    if (!salted) {
      salted = crypto.pbkdf2Sync(password, Buffer.from(a.s, 'base64'), Number(a.i), 20, 'sha1');
      saltedCache.set(key, salted);
    }
    const clientKey = crypto.createHmac('sha1', salted).update('Client Key').digest();
    const stored = crypto.createHash('sha1').update(clientKey).digest();
    const noProof = `c=biws,r=${a.r}`;
    const sig = crypto.createHmac('sha1', stored).update(`${first},${serverFirst},${noProof}`).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i])).toString('base64');
    this.#send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${noProof},p=${proof}`).toString('base64')}</response>`);
    await this.#expect(/<success/);
    this.#buf = '';
    this.#openStream();
    await this.#expect(/<\/stream:features>/);
    this.#send(`<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${this.o.resource}</resource></bind></iq>`);
    this.jid = (await this.#expect(/<jid>([^<]+)<\/jid>/))[1];
    this.#buf = '';
  }

  #send(s: string): void {
    this.#write(s);
  }

  presence(extra = ''): void {
    this.#send(`<presence xmlns='jabber:client'>${extra}</presence>`);
  }

  message(to: string, body: string): void {
    this.#send(`<message xmlns='jabber:client' to='${to}' type='chat'><body>${body}</body></message>`);
  }

  /** A chat message asking for a delivery receipt (XEP-0184). */
  messageWithReceipt(to: string, id: string, body: string): void {
    this.#send(`<message xmlns='jabber:client' to='${to}' type='chat' id='${id}'><body>${body}</body><request xmlns='urn:xmpp:receipts'/></message>`);
  }

  receipt(to: string, id: string): void {
    this.#send(`<message xmlns='jabber:client' to='${to}' type='chat'><received xmlns='urn:xmpp:receipts' id='${id}'/></message>`);
  }

  close(): void {
    this.#close();
  }

  #expect(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const m = re.exec(this.#buf);
    if (m) {
      this.#buf = this.#buf.slice(m.index + m[0].length);
      return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.o.username}: timed out waiting for ${re}; got ${this.#buf.slice(-300)}`)), timeoutMs);
      this.#waiters.push({
        re,
        resolve: (x) => {
          clearTimeout(t);
          resolve(x);
        },
      });
    });
  }

  #onData(d: string): void {
    this.#buf += d;
    if (this.#waiters.length) {
      const w = this.#waiters[0];
      const m = w.re.exec(this.#buf);
      if (m) {
        this.#waiters.shift();
        this.#buf = this.#buf.slice(m.index + m[0].length);
        w.resolve(m);
      }
      return;
    }
    // Established session: pick out message bodies and presences.
    for (;;) {
      const body = /<message([^>]*)>(?:(?!<\/message>).)*?<body>([^<]*)<\/body>.*?<\/message>/s.exec(this.#buf);
      // Attribute values in either quote (Parley writes "…", ejabberd '…').
      const receipt = /<message[^>]*>(?:(?!<\/message>).)*?<received xmlns=["']urn:xmpp:receipts["'] id=["']([^"']+)["']\/>.*?<\/message>/s.exec(this.#buf);
      const pres = /<presence[^>]*from=["']([^"']+)["'][^>]*?(?:\/>|>.*?<\/presence>)/s.exec(this.#buf);
      const next = [body, receipt, pres].filter((x): x is RegExpExecArray => x !== null).sort((x, y) => x.index - y.index)[0];
      if (!next) {
        if (this.#buf.length > 100_000) this.#buf = this.#buf.slice(-10_000);
        return;
      }
      this.#buf = this.#buf.slice(next.index + next[0].length);
      if (next === body) {
        const attrs = next[1];
        this.onMessage?.(next[2], /from=["']([^"']+)["']/.exec(attrs)?.[1] ?? '', /\bid=["']([^"']+)["']/.exec(attrs)?.[1]);
      } else if (next === receipt) this.onReceipt?.(next[1]);
      else this.onPresence?.(next[1]);
    }
  }
}
