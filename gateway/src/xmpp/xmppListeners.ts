/**
 * Where XMPP clients connect: TCP c2s on XMPP_C2S_PORT (STARTTLS), WebSocket on /xmpp
 * (subprotocol "xmpp", RFC 7395) and BOSH on /http-bind (XEP-0206).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../../server-common/logger.js';
import { isLoopback } from './session/c2sSession.js';
import { BoshServer } from './transport/boshTransport.js';
import { TcpTransport } from './transport/tcpTransport.js';
import { loadTlsContext } from '../util/tlsCredentials.js';
import { WebSocketTransport } from './transport/websocketTransport.js';
import type { XmppServer } from './xmppServer.js';

export interface XmppListenersOptions {
  server: XmppServer;
  dataDir: string;
  logger: Logger;
}

/** Longest BOSH long-poll. */
const BOSH_WAIT_SECONDS = 60;

export class XmppListeners {
  readonly #o: XmppListenersOptions;
  #tcp: net.Server | undefined;
  #tls: tls.SecureContext | undefined;
  readonly #wss: WebSocketServer;
  readonly bosh: BoshServer;

  constructor(options: XmppListenersOptions) {
    this.#o = options;
    const server = options.server;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: server.config.maxStanzaBytes + 1024,
      // The transport checks UTF-8 itself, so a bad message ends the stream with an XMPP error
      // (and <close/>) rather than a bare WebSocket close.
      skipUTF8Validation: true,
      handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
    });
    this.bosh = new BoshServer({
      maxStanzaBytes: server.config.maxStanzaBytes,
      maxWaitSeconds: BOSH_WAIT_SECONDS,
      inactivitySeconds: 60,
      allowedOrigins: server.config.boshOrigins,
      logger: options.logger,
      createSession: (t) => server.createSession(t),
    });
  }

  get port(): number {
    const a = this.#tcp?.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  async start(): Promise<void> {
    const { server } = this.#o;
    const cfg = server.config;
    this.#tls = await loadTlsContext(this.#o.dataDir, server.domain, cfg.tlsCert, cfg.tlsKey);
    const tcp = net.createServer((socket) => {
      const transport = new TcpTransport(socket, {
        maxStanzaBytes: cfg.maxStanzaBytes,
        secureContext: () => this.#tls!,
        logger: this.#o.logger,
      });
      server.createSession(transport);
    });
    tcp.on('error', (err) => this.#o.logger.error({ err }, 'XMPP TCP server error'));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port: cfg.port, host: cfg.host, backlog: 4096 }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.#tcp = tcp;
  }

  /** HTTP upgrade on /xmpp. RFC 7395 §3.1: the "xmpp" subprotocol is required. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    if (!offered.includes('xmpp')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nThe "xmpp" WebSocket subprotocol is required (RFC 7395).\n');
      return;
    }
    const ip = clientAddress(req);
    const secure = isSecure(req);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#o.server.createSession(new WebSocketTransport(ws, ip, secure, this.#o.server.config.maxStanzaBytes));
    });
  }

  /** POST /http-bind. */
  handleBosh(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.bosh.handle(req, res, clientAddress(req), isSecure(req));
  }

  async stop(): Promise<void> {
    await this.#o.server.shutdown();
    this.bosh.close();
    this.#wss.close();
    await new Promise<void>((r) => (this.#tcp ? this.#tcp.close(() => r()) : r()));
  }
}

function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** TLS on this connection, or a TLS-terminating proxy on loopback said so (nobody else is believed). */
function isSecure(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  return isLoopback(clientAddress(req)) && req.headers['x-forwarded-proto'] === 'https';
}
