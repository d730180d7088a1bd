/**
 * XMPP client connections over TCP (RFC 6120 §3–§5) with STARTTLS: one XML stream per
 * direction, restarted after TLS and after SASL.
 */
import net from 'node:net';
import tls from 'node:tls';
import { escapeXML, type Element } from 'ltx';
import type { Logger } from '../../../../server-common/logger.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import type { StreamError } from '../core/xml.js';
import type { StreamReceiver, StreamTransport } from './streamTransport.js';
import { XmlStreamParser } from './xmlStreamParser.js';

export interface TcpTransportOptions {
  maxStanzaBytes: number;
  secureContext: () => tls.SecureContext;
  logger: Logger;
}

const IDLE_TIMEOUT_MS = 15 * 60_000;

export class TcpTransport implements StreamTransport {
  readonly kind = 'tcp' as const;
  readonly remoteAddress: string;
  secure = false;
  #socket: net.Socket;
  #parser!: XmlStreamParser;
  #receiver!: StreamReceiver;
  #headerSent = false;
  #closed = false;
  readonly #o: TcpTransportOptions;

  constructor(socket: net.Socket, options: TcpTransportOptions) {
    this.#socket = socket;
    this.#o = options;
    const addr = socket.remoteAddress ?? '';
    this.remoteAddress = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    this.#attach(socket);
  }

  get canStartTls(): boolean {
    return !this.secure;
  }

  setReceiver(receiver: StreamReceiver): void {
    this.#receiver = receiver;
    this.#parser ??= this.#newParser();
  }

  openStream(attrs: { id: string; from: string; version: string; lang: string }, features: Element): void {
    this.#headerSent = true;
    // The stream header stays open until the end, so ltx cannot serialize it; values are escaped.
    const a = (v: string) => escapeXML(v);
    this.#write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' id='${a(attrs.id)}' from='${a(attrs.from)}' version='${a(attrs.version)}' xml:lang='${a(attrs.lang)}'>` +
        features.toString(),
    );
  }

  send(e: Element): void {
    this.#write(e.toString());
  }

  closeStream(error?: Element): void {
    if (this.#closed) return;
    let out = '';
    if (!this.#headerSent) out += `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' version='1.0'>`;
    if (error) out += error.toString();
    out += '</stream:stream>';
    this.#write(out);
    this.#closed = true;
    this.#socket.end();
    // A peer that never closes its side is cut off after a grace period.
    setTimeout(() => this.#socket.destroy(), 5000).unref();
  }

  restartStream(): void {
    this.#headerSent = false;
    this.#parser = this.#newParser();
  }

  async startTls(): Promise<void> {
    const raw = this.#socket;
    raw.removeAllListeners('data');
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.#o.secureContext() });
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.secure = true;
    this.restartStream();
    this.#attach(secure);
  }

  #attach(socket: net.Socket): void {
    // Bytes, not strings: the parser decodes UTF-8 strictly (Node's decoding would hide bad bytes).
    socket.on('data', (chunk: Buffer) => this.#parser.writeBytes(chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#closed = true;
      this.#receiver?.onTransportClosed();
    });
  }

  #newParser(): XmlStreamParser {
    return new XmlStreamParser(
      {
        streamStart: (attrs) => this.#receiver.onStreamOpen(attrs),
        element: (e) => this.#receiver.onElement(e),
        streamEnd: () => this.#receiver.onStreamClose(),
        error: (err: StreamError) => this.#receiver.onStreamError(err),
      },
      { maxStanzaBytes: this.#o.maxStanzaBytes },
    );
  }

  #write(data: string): void {
    if (this.#closed || this.#socket.destroyed) return;
    this.#socket.write(data);
  }
}
