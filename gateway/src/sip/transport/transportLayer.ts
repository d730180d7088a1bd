/**
 * The SIP transport layer (RFC 3261 §18): UDP and TCP on SIP_PORT, TLS on SIP_TLS_PORT
 * (RFC 3261 §26.2, RFC 5630), WebSocket on /sip (RFC 7118). It turns bytes into parsed messages tagged with their flow, stamps
 * received/rport on requests (RFC 3581), answers unparsable requests with 400/505/513,
 * enforces per-IP connection and rate limits, and sends messages back out.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../../../server-common/logger.js';
import { RateLimiter } from '../../../../server-common/rateLimiter.js';
import { TypedEmitter } from '../../../../server-common/typedEmitter.js';
import { createResponse, SipRequest, type SipResponse } from '../core/message.js';
import { parseMessage, type ParseLimits } from '../core/parser.js';
import { socketHost } from '../core/uri.js';
import type { Via } from '../core/via.js';
import { isLoopback, plainAddress, type Flow, type TransportProtocol } from './flow.js';
import { StreamFramer } from './streamFramer.js';

export interface TransportLayerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  maxHeaders: number;
  maxConnectionsPerIp: number;
  /** Requests per second per source IP; 0 disables. */
  ratePerIp: number;
  /** A TCP listener of its own for the other gateway nodes (when they share the SIP port). */
  nodeListen?: { host: string; port: number };
  /** SIP over TLS: its port (0 = any) and the certificate, as for XMPP's STARTTLS. */
  tls?: { port: number; secureContext: () => tls.SecureContext };
  /**
   * Listen on UDP (default). Of several nodes sharing one SIP address on one machine only one
   * may: a datagram socket shared by processes hands each retransmission to whichever reads
   * first, so one transaction would be handled by two nodes.
   */
  udp?: boolean;
  /**
   * Source addresses the per-IP rate does not apply to over TCP (the other gateway nodes, which
   * carry many users' requests); loopback never counts.
   */
  exemptFromRate?: (ip: string) => boolean;
  logger: Logger;
}

export interface TransportEvents {
  request: [SipRequest, Flow];
  response: [SipResponse, Flow];
  flowClosed: [Flow];
}

/** How often WebSocket peers are pinged; a peer that misses a pong is considered gone. */
const WS_PING_INTERVAL_MS = 30_000;
const TCP_IDLE_TIMEOUT_MS = 10 * 60_000;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often a system-picked UDP port is tried again when its number is taken for TCP. */
const PICKED_PORT_ATTEMPTS = 20;

class UdpFlow implements Flow {
  readonly protocol = 'udp' as const;
  readonly reliable = false;
  readonly closed = false;
  readonly id: string;
  constructor(
    private readonly socket: dgram.Socket,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.id = `u~${remoteAddress}~${remotePort}`;
  }
  send(data: Buffer): boolean {
    this.socket.send(data, this.remotePort, this.remoteAddress);
    return true;
  }
  close(): void {}
}

class ConnectionFlow implements Flow {
  readonly reliable = true;
  #closed = false;
  constructor(
    readonly id: string,
    readonly protocol: TransportProtocol,
    readonly remoteAddress: string,
    readonly remotePort: number,
    private readonly write: (data: Buffer) => void,
    private readonly end: () => void,
  ) {}
  get closed(): boolean {
    return this.#closed;
  }
  markClosed(): void {
    this.#closed = true;
  }
  send(data: Buffer): boolean {
    if (this.#closed) return false;
    this.write(data);
    return true;
  }
  close(): void {
    if (!this.#closed) this.end();
  }
}

export class TransportLayer extends TypedEmitter<TransportEvents> {
  readonly #opts: TransportLayerOptions;
  readonly #log: Logger;
  readonly #limits: ParseLimits;
  readonly #rate: RateLimiter;
  readonly #connections = new Map<string, ConnectionFlow>();
  readonly #connectionsPerIp = new Map<string, number>();
  /** Outgoing TCP connections by "host:port", so a second request reuses the first. */
  readonly #outgoing = new Map<string, Promise<ConnectionFlow>>();
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  #nodeTcp: net.Server | undefined;
  #tls: net.Server | undefined;
  #wss: WebSocketServer | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #nextConnectionId = 1;
  #boundPort = 0;

  readonly stats = { received: 0, sent: 0, dropped: 0, rejected: 0, rateLimited: 0 };

  constructor(options: TransportLayerOptions) {
    super();
    this.#opts = options;
    this.#log = options.logger;
    this.#limits = { maxHeaders: options.maxHeaders };
    this.#rate = new RateLimiter(options.ratePerIp);
  }

  /** The UDP/TCP port actually bound (differs from the option when it was 0). */
  get port(): number {
    return this.#boundPort;
  }

  /** The SIP over TLS port actually bound; 0 without TLS. */
  get tlsPort(): number {
    const address = this.#tls?.address();
    return address && typeof address === 'object' ? address.port : 0;
  }

  /** The port other gateway nodes send to: the node listener's, else the SIP port. */
  get nodePort(): number {
    const address = this.#nodeTcp?.address();
    return address && typeof address === 'object' ? address.port : this.#boundPort;
  }

  async start(): Promise<void> {
    await this.#startUdpAndTcp();
    await this.#startNodeListenerAndWebSockets();
    if (this.#opts.tls) await this.#startTls(this.#opts.tls);
  }

  async #startTls(options: NonNullable<TransportLayerOptions['tls']>): Promise<void> {
    // A TLS socket over each accepted connection, as XMPP's STARTTLS does, so both use one
    // SecureContext (tls.createServer would want the PEM files again).
    const server = net.createServer((raw) => {
      // A connection that does not finish its handshake soon holds nothing for long.
      raw.setTimeout(TLS_HANDSHAKE_TIMEOUT_MS, () => raw.destroy());
      const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: options.secureContext() });
      // A client that fails the handshake (wrong CA, plain TCP on the TLS port) is simply dropped.
      socket.once('error', () => socket.destroy());
      socket.once('secure', () => {
        raw.setTimeout(0);
        this.#onTcpConnection(socket, 'tls');
      });
    });
    server.on('error', (err) => this.#log.error({ err }, 'SIP TLS server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: options.port, host: this.#opts.host, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#tls = server;
  }

  async #startUdp(): Promise<void> {
    const udp = dgram.createSocket({
      type: net.isIPv6(this.#opts.host) ? 'udp6' : 'udp4',
      reuseAddr: false,
      // We only ever send to IP addresses; answering the lookup synchronously skips a DNS
      // round through the event loop on every datagram (it halves the user CPU per send).
      lookup: (host, options, callback) => {
        const family = net.isIP(host);
        if (family) (callback as (err: null, address: string, family: number) => void)(null, host, family);
        else dns.lookup(host, options, callback);
      },
    });
    udp.on('message', (data, rinfo) => this.#onDatagram(udp, data, rinfo));
    udp.on('error', (err) => this.#log.error({ err }, 'SIP UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.#opts.port, this.#opts.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    // Large kernel buffers absorb bursts (a REGISTER storm after a restart).
    try {
      udp.setRecvBufferSize(8 * 1024 * 1024);
      udp.setSendBufferSize(8 * 1024 * 1024);
    } catch {
      // Not fatal: the kernel caps these at net.core.rmem_max.
    }
    this.#udp = udp;
    this.#boundPort = udp.address().port;
  }

  /**
   * UDP and TCP on one port number. With port 0 the system picks the UDP port, and that number
   * may already be taken for TCP (by any socket, even an outgoing one): then both are picked again.
   */
  async #startUdpAndTcp(): Promise<void> {
    if (this.#opts.udp === false) {
      this.#tcp = await this.#listenTcp(this.#opts.port);
      this.#boundPort = (this.#tcp.address() as net.AddressInfo).port;
      return;
    }
    for (let attempt = 1; ; attempt++) {
      await this.#startUdp();
      try {
        this.#tcp = await this.#listenTcp(this.#boundPort);
        return;
      } catch (err) {
        const retry = this.#opts.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < PICKED_PORT_ATTEMPTS;
        if (!retry) throw err;
        await new Promise<void>((r) => this.#udp!.close(() => r()));
        this.#udp = undefined;
      }
    }
  }

  async #listenTcp(port: number): Promise<net.Server> {
    const tcp = net.createServer((socket) => this.#onTcpConnection(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port, host: this.#opts.host, backlog: 4096 }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.#log.error({ err }, 'SIP TCP server error'));
    return tcp;
  }

  /** What is started once UDP and TCP share their port: the node listener and WebSockets. */
  async #startNodeListenerAndWebSockets(): Promise<void> {
    const nodeListen = this.#opts.nodeListen;
    if (nodeListen && nodeListen.port !== this.#boundPort) {
      const nodeTcp = net.createServer((socket) => this.#onTcpConnection(socket));
      nodeTcp.on('error', (err) => this.#log.error({ err }, 'SIP node-to-node TCP server error'));
      await new Promise<void>((resolve, reject) => {
        nodeTcp.once('error', reject);
        // exclusive: under the cluster module each node listens on its own port.
        nodeTcp.listen({ port: nodeListen.port, host: nodeListen.host, backlog: 1024, exclusive: true }, () => {
          nodeTcp.off('error', reject);
          resolve();
        });
      });
      this.#nodeTcp = nodeTcp;
    }

    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#opts.maxMessageBytes,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.#pingTimer = setInterval(() => this.#pingWebSockets(), WS_PING_INTERVAL_MS);
    this.#pingTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#pingTimer);
    for (const flow of this.#connections.values()) flow.close();
    await Promise.all([
      new Promise<void>((r) => (this.#udp ? this.#udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.#tcp ? this.#tcp.close(() => r()) : r())),
      new Promise<void>((r) => (this.#nodeTcp ? this.#nodeTcp.close(() => r()) : r())),
      new Promise<void>((r) => (this.#tls ? this.#tls.close(() => r()) : r())),
    ]);
    this.#wss?.close();
  }

  /**
   * Hands an HTTP upgrade on /sip to the WebSocket transport. RFC 7118 §4: the client must
   * offer the "sip" subprotocol; a handshake without it is refused.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const ip = plainAddress(req.socket.remoteAddress ?? '');
    if (!offered.includes('sip')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nThe "sip" WebSocket subprotocol is required (RFC 7118).\n');
      return;
    }
    if (!this.#admitConnection(ip)) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    this.#wss!.handleUpgrade(req, socket, head, (ws) => {
      // Only a proxy on loopback is believed about TLS in front of us.
      const secure = Boolean((req.socket as { encrypted?: boolean }).encrypted) || (isLoopback(ip) && req.headers['x-forwarded-proto'] === 'https');
      this.#onWebSocket(ws, ip, req.socket.remotePort ?? 0, secure ? 'wss' : 'ws');
    });
  }

  getFlow(id: string): Flow | undefined {
    if (id.startsWith('u~')) {
      const [, address, port] = id.split('~');
      return this.#udp && address && port ? new UdpFlow(this.#udp, address, Number(port)) : undefined;
    }
    return this.#connections.get(id);
  }

  /** A UDP flow, or undefined when this node does not listen on UDP. */
  udpFlow(address: string, port: number): Flow | undefined {
    return this.#udp && new UdpFlow(this.#udp, socketHost(address), port);
  }

  /** A flow to host:port over the given transport, connecting over TCP when needed. */
  async flowTo(protocol: TransportProtocol, host: string, port: number): Promise<Flow | undefined> {
    const addr = socketHost(host);
    if (protocol === 'udp') return this.udpFlow(addr, port);
    if (protocol !== 'tcp') return undefined; // nobody can be dialled over WebSocket
    const key = `${addr}:${port}`;
    let pending = this.#outgoing.get(key);
    if (pending) {
      const existing = await pending.catch(() => undefined);
      if (existing && !existing.closed) return existing;
    }
    pending = new Promise<ConnectionFlow>((resolve, reject) => {
      const socket = net.connect({ host: addr, port });
      socket.once('connect', () => resolve(this.#onTcpConnection(socket)!));
      socket.once('error', reject);
    });
    this.#outgoing.set(key, pending);
    try {
      return await pending;
    } catch (err) {
      this.#outgoing.delete(key);
      this.#log.debug({ err, host: addr, port }, 'SIP TCP connect failed');
      return undefined;
    }
  }

  send(flow: Flow, msg: SipRequest | SipResponse): boolean {
    return this.sendBytes(flow, msg.toBuffer());
  }

  sendBytes(flow: Flow, data: Buffer): boolean {
    if (this.#log.isLevelEnabled('trace')) this.#log.trace({ flow: flow.id, sip: redactAuth(data) }, 'SIP out');
    const ok = flow.send(data);
    if (ok) this.stats.sent++;
    return ok;
  }

  /**
   * Where a response goes (RFC 3261 §18.2.2, RFC 3581): back over the flow the request came
   * on when it is a live connection, else to the Via's received/rport address over UDP. A
   * request that arrived over UDP is answered over UDP even when its Via names another
   * transport (RFC 4475 sends several such): the transport it came on is the one that works.
   */
  responseFlow(via: Via, requestFlow?: Flow): Flow | undefined {
    if (requestFlow?.reliable) return requestFlow.closed ? undefined : requestFlow;
    if (via.transport !== 'UDP' && requestFlow?.protocol !== 'udp') return undefined;
    const host = via.params.get('received') ?? via.host;
    const rport = via.params.get('rport');
    const port = rport ? Number(rport) : (via.port ?? 5060);
    return this.udpFlow(host, port);
  }

  #onDatagram(socket: dgram.Socket, data: Buffer, rinfo: dgram.RemoteInfo): void {
    const address = plainAddress(rinfo.address);
    const flow = new UdpFlow(socket, address, rinfo.port);
    if (data.length > this.#opts.maxMessageBytes) {
      this.stats.dropped++;
      return; // Too large to be one of ours; nothing sensible to answer over UDP (RFC 3261 §18.1.1).
    }
    this.#onMessageBytes(data, flow, true);
  }

  #onTcpConnection(socket: net.Socket, protocol: 'tcp' | 'tls' = 'tcp'): ConnectionFlow | undefined {
    const ip = plainAddress(socket.remoteAddress ?? '');
    if (!this.#admitConnection(ip)) {
      socket.destroy();
      return undefined;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    const flow = new ConnectionFlow(
      `${protocol === 'tls' ? 's' : 't'}~${this.#nextConnectionId++}`,
      protocol,
      ip,
      socket.remotePort ?? 0,
      (d) => socket.write(d),
      () => socket.end(),
    );
    this.#addConnection(flow);
    const framer = new StreamFramer(this.#opts.maxMessageBytes);
    socket.on('data', (chunk) => {
      for (const item of framer.push(chunk)) {
        if (item.kind === 'ping') socket.write('\r\n');
        else if (item.kind === 'message') this.#onMessageBytes(item.data, flow, false);
        else {
          this.stats.rejected++;
          socket.end(`SIP/2.0 ${item.status} ${item.reason}\r\nContent-Length: 0\r\n\r\n`);
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#removeConnection(flow, ip));
    return flow;
  }

  #onWebSocket(ws: WebSocket, ip: string, port: number, protocol: 'ws' | 'wss'): void {
    const flow = new ConnectionFlow(
      `w~${this.#nextConnectionId++}`,
      protocol,
      ip,
      port,
      (d) => ws.send(d.toString('utf8')),
      () => ws.close(1000),
    );
    this.#addConnection(flow);
    let alive = true;
    (ws as WebSocket & { isAlive?: () => boolean; markPing?: () => void }).isAlive = () => {
      const was = alive;
      alive = false;
      return was;
    };
    ws.on('pong', () => (alive = true));
    ws.on('message', (data, isBinary) => {
      alive = true;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (!isBinary && buf.length <= 4 && buf.toString().trim() === '') return; // CRLF keep-alive
      this.#onMessageBytes(buf, flow, true);
    });
    ws.on('error', () => {});
    ws.on('close', () => this.#removeConnection(flow, ip));
  }

  #pingWebSockets(): void {
    for (const ws of this.#wss?.clients ?? []) {
      const check = (ws as WebSocket & { isAlive?: () => boolean }).isAlive;
      if (check && !check()) ws.terminate();
      else ws.ping();
    }
  }

  #admitConnection(ip: string): boolean {
    const n = this.#connectionsPerIp.get(ip) ?? 0;
    if (n >= this.#opts.maxConnectionsPerIp) {
      this.#log.warn({ ip, limit: this.#opts.maxConnectionsPerIp }, 'SIP connection refused: per-IP limit reached (PARLEY_SIP_MAX_CONNECTIONS_PER_IP)');
      return false;
    }
    this.#connectionsPerIp.set(ip, n + 1);
    return true;
  }

  #addConnection(flow: ConnectionFlow): void {
    this.#connections.set(flow.id, flow);
  }

  #removeConnection(flow: ConnectionFlow, ip: string): void {
    if (flow.closed) return;
    flow.markClosed();
    this.#connections.delete(flow.id);
    const n = (this.#connectionsPerIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#connectionsPerIp.delete(ip);
    else this.#connectionsPerIp.set(ip, n);
    for (const [key, pending] of this.#outgoing) {
      pending.then((f) => f === flow && this.#outgoing.delete(key)).catch(() => {});
    }
    this.emit('flowClosed', flow);
  }

  /** Feeds bytes received on `flow` into the stack (the sockets call this; so can a test harness). */
  receive(data: Buffer, flow: Flow, datagram: boolean): void {
    this.#onMessageBytes(data, flow, datagram);
  }

  #rateExempt(flow: Flow): boolean {
    if (isLoopback(flow.remoteAddress)) return true;
    // Over TCP the address is the peer's (no spoofing it, unlike a datagram's).
    return flow.protocol === 'tcp' && (this.#opts.exemptFromRate?.(plainAddress(flow.remoteAddress)) ?? false);
  }

  #onMessageBytes(data: Buffer, flow: Flow, datagram: boolean): void {
    this.stats.received++;
    const result = parseMessage(data, this.#limits, datagram);
    if (!result.ok) {
      this.stats.rejected++;
      if (result.status && result.partial && result.partial.method !== 'ACK') {
        this.#replyStateless(result.partial, result.status, result.reason, flow);
      }
      this.#log.debug({ flow: flow.id, reason: result.reason }, 'SIP message rejected');
      return;
    }
    const msg = result.message;
    if (this.#log.isLevelEnabled('trace')) this.#log.trace({ flow: flow.id, sip: redactAuth(data) }, 'SIP in');
    if (msg instanceof SipRequest) {
      if (!this.#rateExempt(flow) && !this.#rate.take(flow.remoteAddress)) {
        this.stats.rateLimited++;
        if (msg.method !== 'ACK') {
          this.send(flow, createResponse(msg, 503, { headers: [['Retry-After', '5']] }));
        }
        return;
      }
      stampReceived(msg, flow);
      this.emit('request', msg, flow);
    } else {
      this.emit('response', msg, flow);
    }
  }

  /** Answers a request that could not be parsed, as well as its remains allow. */
  #replyStateless(partial: SipRequest, status: number, reason: string, flow: Flow): void {
    const res = createResponse(partial, status, { reason });
    this.send(flow, res);
  }
}

/** RFC 3581 / RFC 3261 §18.2.1: record where the request really came from in its top Via. */
function stampReceived(req: SipRequest, flow: Flow): void {
  const via = req.topVia;
  if (!via) return;
  const rport = via.params.get('rport');
  const wantsRport = rport === null;
  const hostDiffers = via.host !== flow.remoteAddress && socketHost(via.host) !== flow.remoteAddress;
  if (!wantsRport && !hostDiffers) return;
  // Parameters are appended/filled in place, so the rest of the header stays as sent.
  if (wantsRport) via.params.set('rport', String(flow.remotePort));
  via.params.set('received', flow.remoteAddress);
  req.replaceTopVia(via);
}

/** Hides digest credentials from message traces. */
function redactAuth(data: Buffer): string {
  return data
    .toString('utf8')
    .replace(/^((?:Proxy-)?Authorization:\s*)(.*)$/gim, '$1[redacted]');
}
