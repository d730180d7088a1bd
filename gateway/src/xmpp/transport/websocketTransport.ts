/**
 * XMPP over WebSocket (RFC 7395): one complete element per text message (§3.3.3), <open/> and
 * <close/> framing in urn:ietf:params:xml:ns:xmpp-framing, every stanza carrying its own
 * namespace. A message that is not exactly one well-formed element, or not UTF-8 text, ends
 * the stream with <not-well-formed/> before anything in it is acted on.
 */
import type { Element } from 'ltx';
import type { WebSocket } from 'ws';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { el, StreamError } from '../core/xml.js';
import type { StreamReceiver, StreamTransport } from './streamTransport.js';
import { XmlStreamParser } from './xmlStreamParser.js';

const STANZAS = new Set(['message', 'presence', 'iq']);
/** Strict: invalid bytes throw instead of turning into U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export class WebSocketTransport implements StreamTransport {
  readonly kind = 'websocket' as const;
  readonly canStartTls = false;
  #receiver!: StreamReceiver;
  #parser: XmlStreamParser;
  #closed = false;
  /** Elements the message being read has produced. */
  #inMessage: Element[] = [];

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly secure: boolean,
    maxStanzaBytes: number,
  ) {
    this.#parser = new XmlStreamParser(
      {
        streamStart: () => {},
        element: (e) => this.#inMessage.push(e),
        streamEnd: () => {},
        error: (err) => this.#receiver.onStreamError(err),
      },
      { maxStanzaBytes, fragments: true },
    );
    ws.on('message', (data, isBinary) => this.#onMessage(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer), isBinary));
    ws.on('close', () => {
      this.#closed = true;
      this.#receiver?.onTransportClosed();
    });
    ws.on('error', () => {});
  }

  setReceiver(receiver: StreamReceiver): void {
    this.#receiver = receiver;
  }

  openStream(attrs: { id: string; from: string; version: string; lang: string }, features: Element): void {
    this.#sendRaw(el('open', { xmlns: NS.framing, id: attrs.id, from: attrs.from, version: attrs.version, 'xml:lang': attrs.lang }).toString());
    features.attrs['xmlns:stream'] = NS.stream;
    this.#sendRaw(features.toString());
  }

  send(e: Element): void {
    // Each frame is its own document: stanzas must name jabber:client themselves.
    if (STANZAS.has(e.name) && !e.attrs.xmlns) e.attrs.xmlns = NS.client;
    else if (e.name.startsWith('stream:')) e.attrs['xmlns:stream'] = NS.stream;
    this.#sendRaw(e.toString());
  }

  closeStream(error?: Element): void {
    if (this.#closed) return;
    if (error) {
      error.attrs['xmlns:stream'] = NS.stream;
      this.#sendRaw(error.toString());
    }
    this.#sendRaw(el('close', { xmlns: NS.framing }).toString());
    this.#closed = true;
    this.ws.close(1000);
  }

  restartStream(): void {
    // The client sends a new <open/> on the same connection; nothing to reset.
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#parser.failed) return;
    if (isBinary) return this.#malformed('XMPP over WebSocket uses text messages (RFC 7395 §3.2)');
    let text: string;
    try {
      text = UTF8.decode(data);
    } catch {
      return this.#malformed('the message is not valid UTF-8');
    }
    this.#inMessage = [];
    this.#parser.write(text);
    if (this.#parser.failed) return;
    const frames = this.#inMessage;
    this.#inMessage = [];
    if (frames.length !== 1 || this.#parser.insideElement) {
      return this.#malformed('a WebSocket message holds exactly one complete XML element (RFC 7395 §3.3.3)');
    }
    this.#onFrame(frames[0]);
  }

  #malformed(text: string): void {
    this.#receiver.onStreamError(new StreamError('not-well-formed', text));
  }

  #onFrame(e: Element): void {
    if (e.name === 'open' && e.attrs.xmlns === NS.framing) this.#receiver.onStreamOpen(e.attrs);
    else if (e.name === 'close' && e.attrs.xmlns === NS.framing) this.#receiver.onStreamClose();
    else this.#receiver.onElement(e);
  }

  #sendRaw(data: string): void {
    if (this.#closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(data);
  }
}
