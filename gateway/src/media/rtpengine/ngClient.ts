/**
 * rtpengine's control protocol ("ng": a cookie, a space, a bencoded dictionary, over UDP).
 *
 * One socket for every request; a reply is matched to its request by the cookie. A request
 * that gets no reply is sent again with the same cookie (rtpengine answers a repeated cookie
 * from its cache instead of running the command twice), and fails after the last try.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import bencode from 'bencode';

/** A bencode value as rtpengine uses it (strings decoded as UTF-8). */
export type NgValue = string | number | NgValue[] | { [key: string]: NgValue };
export type NgDictionary = { [key: string]: NgValue };

export interface NgClientOptions {
  host: string;
  port: number;
  /** How long to wait for a reply before sending the request again. */
  retryMs?: number;
  /** How many times a request is sent in all. */
  tries?: number;
}

/** rtpengine answered, and the answer is `result: error`. */
export class NgCommandError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`rtpengine refused '${command}': ${reason}`);
    this.name = 'NgCommandError';
  }
}

/** rtpengine did not answer at all. */
export class NgUnreachableError extends Error {
  constructor(readonly command: string, address: string) {
    super(`rtpengine at ${address} did not answer '${command}'`);
    this.name = 'NgUnreachableError';
  }
}

interface Pending {
  resolve(reply: NgDictionary): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class NgClient {
  readonly #o: Required<NgClientOptions>;
  readonly #socket: dgram.Socket;
  readonly #pending = new Map<string, Pending>();
  #bound: Promise<void>;
  #closed = false;

  constructor(options: NgClientOptions) {
    this.#o = { host: options.host, port: options.port, retryMs: options.retryMs ?? 500, tries: options.tries ?? 3 };
    this.#socket = dgram.createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
    this.#socket.on('message', (data) => this.#onReply(data));
    // A send to a closed port comes back as an error on some systems: the retry covers it.
    this.#socket.on('error', () => {});
    this.#bound = new Promise((resolve) => this.#socket.bind(0, () => resolve()));
  }

  get address(): string {
    return `${this.#o.host}:${this.#o.port}`;
  }

  /** Runs one command; resolves with rtpengine's reply dictionary (result ok, pong …). */
  async request(command: string, params: NgDictionary = {}): Promise<NgDictionary> {
    if (this.#closed) throw new NgUnreachableError(command, this.address);
    await this.#bound;
    const cookie = crypto.randomBytes(8).toString('hex');
    const packet = Buffer.concat([Buffer.from(`${cookie} `), Buffer.from(bencode.encode({ ...params, command }))]);
    const reply = await new Promise<NgDictionary>((resolve, reject) => {
      let sent = 0;
      const send = () => {
        if (sent++ >= this.#o.tries) {
          this.#pending.delete(cookie);
          reject(new NgUnreachableError(command, this.address));
          return;
        }
        this.#socket.send(packet, this.#o.port, this.#o.host);
        const entry = this.#pending.get(cookie);
        if (entry) entry.timer = setTimeout(send, this.#o.retryMs);
      };
      this.#pending.set(cookie, { resolve, reject, timer: setTimeout(() => {}, 0) });
      send();
    });
    if (reply.result === 'error') throw new NgCommandError(command, String(reply['error-reason'] ?? 'no reason given'));
    return reply;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [cookie, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new NgUnreachableError(cookie, this.address));
    }
    this.#pending.clear();
    this.#socket.close();
  }

  #onReply(data: Buffer): void {
    const space = data.indexOf(0x20);
    if (space <= 0) return;
    const cookie = data.subarray(0, space).toString('latin1');
    const pending = this.#pending.get(cookie);
    if (!pending) return; // a late answer to a retried request, or not ours
    this.#pending.delete(cookie);
    clearTimeout(pending.timer);
    let reply: unknown;
    try {
      // Decoded as bytes, then made text here: bencode 4's own 'utf8' option throws on dictionaries.
      reply = asText(bencode.decode(data.subarray(space + 1)));
    } catch {
      pending.reject(new NgCommandError('?', 'an answer that is not bencode'));
      return;
    }
    if (reply === null || typeof reply !== 'object' || Array.isArray(reply)) pending.reject(new NgCommandError('?', 'an answer that is not a dictionary'));
    else pending.resolve(reply as NgDictionary);
  }
}

/** bencode's byte strings as UTF-8 text, throughout a decoded value. */
function asText(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (Array.isArray(value)) return value.map(asText);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asText(v)]));
  return value;
}
