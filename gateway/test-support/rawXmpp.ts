/** A raw XMPP TCP connection for tests that must send exactly the bytes they choose. */
import crypto from 'node:crypto';
import net from 'node:net';

export class RawXmpp {
  received = '';
  closed = false;
  #socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (this.received += d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawXmpp> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new RawXmpp(s);
  }

  write(data: string): void {
    this.#socket.write(data);
  }

  /** Exactly these bytes (for encodings tests). */
  writeBytes(data: Buffer): void {
    this.#socket.write(data);
  }

  /** Waits until what was received (since `from`) matches. */
  async waitFor(re: RegExp, timeoutMs = 5000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.received.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; received: ${this.received.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  openStream(): void {
    this.write(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Authenticates with SCRAM (RFC 5802/7677), computed here independently of the server. */
  async scram(hash: 'sha1' | 'sha256', username: string, password: string): Promise<'success' | 'failure'> {
    const mech = hash === 'sha1' ? 'SCRAM-SHA-1' : 'SCRAM-SHA-256';
    const cnonce = crypto.randomBytes(12).toString('base64');
    const clientFirstBare = `n=${username},r=${cnonce}`;
    const mark = this.received.length;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mech}'>${Buffer.from(`n,,${clientFirstBare}`).toString('base64')}</auth>`);
    const challenge = await this.waitFor(/<challenge[^>]*>([^<]*)<\/challenge>|<failure/, 5000, mark);
    if (!challenge[1]) return 'failure';
    const serverFirst = Buffer.from(challenge[1], 'base64').toString();
    const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
    const salted = crypto.pbkdf2Sync(password, Buffer.from(attrs.s, 'base64'), Number(attrs.i), hash === 'sha1' ? 20 : 32, hash);
    const clientKey = crypto.createHmac(hash, salted).update('Client Key').digest();
    const storedKey = crypto.createHash(hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = crypto.createHmac(hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    const serverKey = crypto.createHmac(hash, salted).update('Server Key').digest();
    const mark2 = this.received.length;
    this.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${withoutProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
    const result = await this.waitFor(/<success[^>]*>([^<]*)<\/success>|<success[^>]*\/>|<failure/, 5000, mark2);
    if (!result[0].startsWith('<success')) return 'failure';
    const expected = `v=${crypto.createHmac(hash, serverKey).update(authMessage).digest('base64')}`;
    if (Buffer.from(result[1] ?? '', 'base64').toString() !== expected) throw new Error('server signature does not verify');
    return 'success';
  }
}
