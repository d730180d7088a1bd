/**
 * XMPP over WebSocket (RFC 7395): one complete element per message, <open/> and <close/>
 * framing in urn:ietf:params:xml:ns:xmpp-framing, every stanza carrying its own namespace.
 */
import type { Element } from 'ltx';
import type { WebSocket } from 'ws';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { el } from '../core/xml.js';
import type { StreamReceiver, StreamTransport } from './streamTransport.js';
import { XmlStreamParser } from './xmlStreamParser.js';

const STANZAS = new Set(['message', 'presence', 'iq']);

export class WebSocketTransport implements StreamTransport {
  readonly kind = 'websocket' as const;
  readonly canStartTls = false;
  #receiver!: StreamReceiver;
  #parser: XmlStreamParser;
  #closed = false;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly secure: boolean,
    maxStanzaBytes: number,
  ) {
    this.#parser = new XmlStreamParser(
      {
        streamStart: () => {},
        element: (e) => this.#onFrame(e),
        streamEnd: () => {},
        error: (err) => this.#receiver.onStreamError(err),
      },
      { maxStanzaBytes, fragments: true },
    );
    ws.on('message', (data) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
      this.#parser.write(text);
    });
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
