/**
 * Fuzz target: XMPP over WebSocket (RFC 7395) — the framing (one complete element per text
 * message, UTF-8, <open/>/<close/>) and the session behind it. The input is split into
 * WebSocket messages at 0xFF bytes (which UTF-8 never contains); the first byte picks binary
 * or text frames for all of them. The transport is Parley's own; only the socket is simulated.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { WebSocketTransport } from '../../gateway/src/xmpp/transport/websocketTransport.js';
import { assertNoInternalError, closeXmppGateway, settle, xmppGateway } from '../support/xmppHarness.js';

export const close = closeXmppGateway;

/** The part of a `ws` WebSocket the transport uses; what the server sends is collected. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  readonly sent: string[] = [];
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
}

export async function fuzz(data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const gw = await xmppGateway();
  const socket = new FakeSocket();
  // The transport only uses the members FakeSocket has (send, close, readyState, OPEN, events).
  const transport = new WebSocketTransport(socket as unknown as WebSocket, '127.0.0.1', false, 65536);
  const session = gw.gateway.xmpp.createSession(transport);
  const binary = data[0] % 2 === 1;
  let start = 1;
  for (let i = 1; i <= data.length; i++) {
    if (i === data.length || data[i] === 0xff) {
      socket.emit('message', data.subarray(start, i), binary);
      start = i + 1;
      if (socket.readyState !== 1) break;
    }
  }
  await settle();
  assertNoInternalError(socket.sent);
  session.close();
}
