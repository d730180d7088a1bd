/**
 * Hands an HTTP upgrade (a WebSocket) on to another server unchanged: the gateway nodes of one
 * machine (PARLEY_NODES) share one SFU node, which browsers reach through any node's /sfu.
 * The request head is written again as it came, with X-Forwarded-For added, and the two sockets
 * are piped together; the WebSocket handshake and frames are the upstream's business.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export function forwardUpgrade(upstream: URL, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const target = net.connect({ host: upstream.hostname, port: Number(upstream.port || 80) });
  const fail = () => {
    target.destroy();
    socket.destroy();
  };
  target.once('error', () => {
    if (!socket.destroyed) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nThe conference server is not reachable; try again in a moment.\n');
    target.destroy();
  });
  socket.once('error', fail);
  target.once('connect', () => {
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() !== 'x-forwarded-for') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    if (forwarded) lines.push(`X-Forwarded-For: ${forwarded}`);
    target.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length) target.write(head);
    socket.pipe(target).pipe(socket);
    target.once('close', () => socket.destroy());
    socket.once('close', () => target.destroy());
  });
}
