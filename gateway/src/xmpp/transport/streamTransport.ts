/**
 * What a client session needs from its connection, whatever carries it: TCP (RFC 6120),
 * WebSocket (RFC 7395) or BOSH (XEP-0124/0206). The transport parses incoming XML and feeds
 * the session through `StreamReceiver`; the session answers through these methods.
 */
import type { Element } from 'ltx';

export interface StreamTransport {
  readonly kind: 'tcp' | 'websocket' | 'bosh';
  readonly remoteAddress: string;
  /** The connection is encrypted (TLS on TCP, or the HTTP request came over TLS). */
  readonly secure: boolean;
  /** TCP before STARTTLS. */
  readonly canStartTls: boolean;
  /** Sends the stream header (TCP <stream:stream>, WebSocket <open/>, BOSH session creation). */
  openStream(attrs: { id: string; from: string; version: string; lang: string }, features: Element): void;
  send(e: Element): void;
  /** Ends the stream, optionally after a stream error, and closes the connection. */
  closeStream(error?: Element): void;
  /** Upgrades to TLS (TCP only) after <proceed/> was sent. */
  startTls?(): Promise<void>;
  /** Discards parser state: the client opens a new stream (after SASL success or STARTTLS). */
  restartStream(): void;
  /** Hands incoming traffic to another session (XEP-0198 resumption moves a connection). */
  setReceiver(receiver: StreamReceiver): void;
}

export interface StreamReceiver {
  onStreamOpen(attrs: Record<string, string>): void;
  onElement(e: Element): void;
  onStreamClose(): void;
  /** The connection went away (TCP close, WebSocket close, BOSH inactivity). */
  onTransportClosed(): void;
  onStreamError(condition: import('../core/xml.js').StreamError): void;
}
