/**
 * Streaming XML for XMPP on top of saxes (a strict, well-kept XML 1.0 parser): turns bytes into
 * the stream header and whole top-level elements (stanzas and nonzas) as ltx Elements.
 *
 * RFC 6120 §11.1 restricted XML is enforced: a DOCTYPE (and so any entity definition — the
 * "billion laughs"), comments and processing instructions end the stream with
 * <restricted-xml/>; saxes itself refuses undefined entities and malformed XML
 * (<not-well-formed/>). A stanza larger than the limit ends the stream with <policy-violation/>
 * as soon as the limit is crossed, so memory stays bounded. Bytes that are not UTF-8 (RFC 6120
 * §11.6 requires it) and, between elements in fragment framing, text end it with
 * <not-well-formed/>.
 */
import { Element } from 'ltx';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { StreamError } from '../core/xml.js';

export interface XmlStreamHandlers {
  /** The root element opened (`stream:stream`), with its attributes. Not called in fragment mode. */
  streamStart(attrs: Record<string, string>): void;
  /** A complete child of the root: a stanza or nonza. */
  element(e: Element): void;
  /** The root element closed. */
  streamEnd(): void;
  /** The stream must end with this error. */
  error(err: StreamError): void;
}

export interface XmlStreamParserOptions {
  maxStanzaBytes: number;
  /**
   * Fragment mode (RFC 7395 WebSocket framing, BOSH bodies): input is a sequence of complete
   * elements with no enclosing root; each is delivered through `element`.
   */
  fragments?: boolean;
}

const FRAGMENT_ROOT = 'parley-fragments';

export class XmlStreamParser {
  readonly #parser: SaxesParser;
  readonly #h: XmlStreamHandlers;
  readonly #max: number;
  readonly #fragments: boolean;
  #stack: Element[] = [];
  #depth = 0;
  #stanzaStart = 0;
  #failed = false;
  /** Streaming and strict: an invalid byte sequence throws instead of becoming U+FFFD. */
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(handlers: XmlStreamHandlers, options: XmlStreamParserOptions) {
    this.#h = handlers;
    this.#max = options.maxStanzaBytes;
    this.#fragments = options.fragments ?? false;
    const p = new SaxesParser({ xmlns: false, position: true });
    this.#parser = p;
    p.on('doctype', () => this.#fail(new StreamError('restricted-xml', 'DTDs are not allowed in XMPP')));
    p.on('comment', () => this.#fail(new StreamError('restricted-xml', 'comments are not allowed in XMPP')));
    p.on('processinginstruction', () => this.#fail(new StreamError('restricted-xml', 'processing instructions are not allowed in XMPP')));
    p.on('error', (err) => this.#fail(new StreamError('not-well-formed', err.message.replace(/^[^:]*:\d+:\d+: /, ''))));
    p.on('opentag', (tag) => this.#open(tag as SaxesTagPlain));
    p.on('closetag', () => this.#close());
    p.on('text', (t) => this.#text(t));
    p.on('cdata', (t) => this.#text(t));
    if (this.#fragments) p.write(`<${FRAGMENT_ROOT}>`);
  }

  write(chunk: string): void {
    if (this.#failed) return;
    try {
      this.#parser.write(chunk);
    } catch (err) {
      // saxes throws from write() when the error handler did not; treat as malformed.
      if (!this.#failed) this.#fail(new StreamError('not-well-formed', (err as Error).message));
    }
    if (!this.#failed && this.#depth >= 2 && this.#parser.position - this.#stanzaStart > this.#max) {
      this.#fail(new StreamError('policy-violation', `stanza larger than ${this.#max} bytes`));
    }
  }

  /** Raw bytes off the wire (a chunk may end inside a multi-byte character). */
  writeBytes(chunk: Uint8Array): void {
    if (this.#failed) return;
    let text: string;
    try {
      text = this.#decoder.decode(chunk, { stream: true });
    } catch {
      this.#fail(new StreamError('not-well-formed', 'the stream is not valid UTF-8'));
      return;
    }
    this.write(text);
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Whether a top-level element has begun and not yet ended. */
  get insideElement(): boolean {
    return this.#depth >= 2;
  }

  #fail(err: StreamError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#stack = [];
    this.#h.error(err);
  }

  #open(tag: SaxesTagPlain): void {
    if (this.#failed) return;
    this.#depth++;
    if (this.#depth === 1) {
      if (!this.#fragments) this.#h.streamStart({ ...tag.attributes });
      return;
    }
    if (this.#depth === 2) this.#stanzaStart = this.#parser.position;
    else if (this.#parser.position - this.#stanzaStart > this.#max) {
      this.#fail(new StreamError('policy-violation', `stanza larger than ${this.#max} bytes`));
      return;
    }
    const e = new Element(tag.name, { ...tag.attributes });
    const parent = this.#stack[this.#stack.length - 1];
    if (parent) parent.cnode(e);
    this.#stack.push(e);
  }

  #close(): void {
    if (this.#failed) return;
    this.#depth--;
    if (this.#depth === 0) {
      if (!this.#fragments) this.#h.streamEnd();
      return;
    }
    const e = this.#stack.pop();
    if (this.#depth === 1 && e) {
      // The whole stanza may have arrived in one chunk: check its size before handing it on.
      if (this.#parser.position - this.#stanzaStart > this.#max) {
        this.#fail(new StreamError('policy-violation', `stanza larger than ${this.#max} bytes`));
        return;
      }
      this.#h.element(e);
    }
  }

  #text(t: string): void {
    if (this.#failed) return;
    if (this.#depth >= 2 && this.#parser.position - this.#stanzaStart > this.#max) {
      this.#fail(new StreamError('policy-violation', `stanza larger than ${this.#max} bytes`));
      return;
    }
    const top = this.#stack[this.#stack.length - 1];
    if (top) top.t(t);
    // Between stanzas only whitespace (keep-alives) may appear; framed input has nothing else.
    else if (this.#fragments && t.trim()) this.#fail(new StreamError('not-well-formed', 'text outside an element'));
  }
}
