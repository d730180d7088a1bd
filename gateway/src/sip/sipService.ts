/**
 * The SIP service: transport → transactions → registrar/proxy, wired together.
 * sip/ owns SIP (RFC 3261) for the gateway: the message model and parser (core/), UDP, TCP and
 * WebSocket transports (transport/), transactions and timers (transaction/), digest
 * authentication (auth/), the registrar and location store (registrar/), and the stateful
 * proxy that never relays for strangers (proxy/).
 * Any exception while handling a message is answered with 500 and logged; it never takes
 * the process down.
 */
import type tls from 'node:tls';
import type { CallLog } from '../calls/callLog.js';
import type { GatewayConfig } from '../config.js';
import type { AccountStore } from '../directory/accountStore.js';
import { MediaBridge } from '../media/mediaBridge.js';
import { LoginThrottle } from '../session/loginThrottle.js';
import { loadTlsContext } from '../util/tlsCredentials.js';
import type { Logger } from '../../../server-common/logger.js';
import { DigestAuthenticator, type DigestCredentialSource } from './auth/digestAuthenticator.js';
import { NonceManager } from './auth/nonceManager.js';
import { createResponse, CSeqParseError, type SipRequest } from './core/message.js';
import { NameAddrParseError } from './core/nameAddr.js';
import { UriParseError } from './core/uri.js';
import { ViaParseError } from './core/via.js';
import { LocalDomain } from './localDomain.js';
import { CallMedia } from './proxy/callMedia.js';
import { Proxy, type NodeAddress } from './proxy/proxy.js';
import { RouteTokenSigner } from './proxy/routeToken.js';
import type { LocationStore } from './registrar/locationStore.js';
import { Registrar } from './registrar/registrar.js';
import type { ServerTransaction } from './transaction/serverTransaction.js';
import { TransactionLayer } from './transaction/transactionLayer.js';
import type { TimerValues } from './transaction/timers.js';
import { TransportLayer } from './transport/transportLayer.js';

/** What reading a malformed header throws. */
const HEADER_PARSE_ERRORS = [NameAddrParseError, UriParseError, ViaParseError, CSeqParseError];

export interface SipServiceOptions {
  config: GatewayConfig;
  accounts: AccountStore;
  credentials: DigestCredentialSource;
  /** Told which credential a REGISTER used, and from where. */
  credentialUsed?: (credential: string, by: string) => void;
  locations: LocationStore;
  callLog: CallLog;
  /** Key (derived from the server secret) that signs dialog route tokens. */
  routeKey: Buffer;
  /** Set when several gateway nodes share the users (REDIS_URL). */
  cluster?: SipClusterOptions;
  logger: Logger;
  timers?: TimerValues;
}

export interface SipClusterOptions {
  nodeId: string;
  /** Where the other nodes reach this node's SIP listener. */
  nodeHost: string;
  /** 0: the SIP port itself. */
  nodeSipPort: number;
  /** Listen for the other nodes on a port of this node's own (see config). */
  ownNodePort: boolean;
  /** A live node's node-to-node SIP address, or undefined when it is gone. */
  address(nodeId: string): NodeAddress | undefined;
  /** Whether an IP address is another live node's (its traffic is not rate-limited per address). */
  isNodeAddress(ip: string): boolean;
}

/** Where Debian's rtpengine-daemon listens for its ng protocol with its packaged settings. */
const DEBIAN_RTPENGINE = 'udp:127.0.0.1:2223';

/** The media bridge the settings name; for `auto`, a local rtpengine if one answers now. */
async function openMediaBridge(url: string | undefined, log: Logger): Promise<MediaBridge | undefined> {
  if (!url) return undefined;
  if (url === 'auto') {
    const local = new MediaBridge({ url: DEBIAN_RTPENGINE, logger: log, tries: 1, retryMs: 250 });
    if (await local.ping()) return local;
    local.close();
    return undefined;
  }
  const bridge = new MediaBridge({ url, logger: log });
  if (!(await bridge.ping())) {
    // Not fatal: rtpengine may start after us; each bridged call says so if it still does not answer.
    log.warn({ bridge: bridge.address }, 'media bridge (rtpengine) does not answer ping yet');
  }
  return bridge;
}

export class SipService {
  readonly transport: TransportLayer;
  /** Wrong digest answers per account and address (not per address alone: a whole office shares one NAT). */
  readonly loginThrottle: LoginThrottle;
  #transactions: TransactionLayer | undefined;
  #registrar: Registrar | undefined;
  #proxy: Proxy | undefined;
  #domain: LocalDomain | undefined;
  #bridge: MediaBridge | undefined;
  #tlsContext: tls.SecureContext | undefined;
  #media: CallMedia | undefined;
  readonly #o: SipServiceOptions;
  readonly #log: Logger;

  constructor(options: SipServiceOptions) {
    this.#o = options;
    this.#log = options.logger;
    const sip = options.config.sip;
    const { auth } = options.config;
    this.loginThrottle = new LoginThrottle(auth.loginMaxFailures, auth.loginFailureWindowSeconds * 1000, 0);
    this.transport = new TransportLayer({
      host: sip.host,
      port: sip.port,
      maxMessageBytes: sip.maxMessageBytes,
      maxHeaders: sip.maxHeaders,
      maxConnectionsPerIp: sip.maxConnectionsPerIp,
      ratePerIp: sip.ratePerIp,
      nodeListen: options.cluster?.ownNodePort ? { host: options.cluster.nodeHost, port: options.cluster.nodeSipPort } : undefined,
      tls: sip.tls && { port: sip.tls.port, secureContext: () => this.#tlsContext! },
      udp: sip.udp,
      exemptFromRate: options.cluster && ((ip) => options.cluster!.isNodeAddress(ip)),
      logger: options.logger,
    });
  }

  get registrar(): Registrar {
    if (!this.#registrar) throw new Error('SIP service not started');
    return this.#registrar;
  }

  get domain(): LocalDomain {
    if (!this.#domain) throw new Error('SIP service not started');
    return this.#domain;
  }

  /** Prometheus-style names, without the parley_ prefix. */
  get stats(): Record<string, number> {
    const t = this.transport.stats;
    return {
      sip_messages_received_total: t.received,
      sip_messages_sent_total: t.sent,
      sip_messages_rejected_total: t.rejected,
      sip_messages_dropped_total: t.dropped,
      sip_requests_rate_limited_total: t.rateLimited,
      sip_server_transactions: this.#transactions?.counts.server ?? 0,
      sip_client_transactions: this.#transactions?.counts.client ?? 0,
      sip_proxy_contexts: this.#proxy?.pendingContexts ?? 0,
      sip_node_relays_sent_total: this.#proxy?.nodeRelays.sent ?? 0,
      sip_node_relays_received_total: this.#proxy?.nodeRelays.received ?? 0,
      sip_bridged_calls: this.#media?.bridgedCalls ?? 0,
      sip_bridged_calls_total: this.#media?.counts.bridged ?? 0,
      sip_calls_refused_for_media_total: this.#media?.counts.refused ?? 0,
    };
  }

  async start(): Promise<void> {
    const { config } = this.#o;
    const tlsConfig = config.sip.tls;
    if (tlsConfig) this.#tlsContext = await loadTlsContext(config.dataDir, config.domain, tlsConfig.cert, tlsConfig.key);
    await this.transport.start();
    // The bound port is only known now (SIP_PORT=0 picks a free one).
    const cluster = this.#o.cluster;
    const nodeAddress = cluster ? { host: cluster.nodeHost, port: this.transport.nodePort } : undefined;
    const domain = new LocalDomain(config.domain, config.sip.advertisedHost, this.transport.port, nodeAddress, this.transport.tlsPort || undefined);
    this.#domain = domain;
    const transactions = new TransactionLayer(this.transport, this.#o.timers);
    this.#transactions = transactions;
    const authenticator = new DigestAuthenticator({
      realm: config.domain,
      algorithms: config.sip.digestAlgorithms,
      nonces: new NonceManager({ ttlSeconds: config.sip.nonceTtlSeconds }),
      credentials: this.#o.credentials,
      throttle: this.loginThrottle,
    });
    this.#registrar = new Registrar({
      domain,
      accounts: this.#o.accounts,
      locations: this.#o.locations,
      authenticator,
      minExpires: config.sip.minExpires,
      maxExpires: config.sip.maxExpires,
      defaultExpires: config.sip.defaultExpires,
      maxBindingsPerUser: config.sip.maxBindingsPerUser,
      nodeId: cluster?.nodeId,
      credentialUsed: this.#o.credentialUsed,
      logger: this.#log,
    });
    const bridgeConfig = config.mediaBridge;
    this.#bridge = await openMediaBridge(bridgeConfig.url, this.#log);
    this.#media = new CallMedia({ bridge: this.#bridge, always: bridgeConfig.always, maxCalls: bridgeConfig.maxCalls, checkIntervalMs: bridgeConfig.checkSeconds * 1000, logger: this.#log });
    this.#proxy = new Proxy({
      domain,
      transport: this.transport,
      transactions,
      authenticator,
      accounts: this.#o.accounts,
      locations: this.#o.locations,
      tokens: new RouteTokenSigner(this.#o.routeKey),
      callLog: this.#o.callLog,
      inviteTimeoutSeconds: config.sip.inviteTimeoutSeconds,
      nodes: cluster && nodeAddress ? { nodeId: cluster.nodeId, self: nodeAddress, address: (id) => cluster.address(id) } : undefined,
      media: this.#media,
      logger: this.#log,
    });

    transactions.on('request', (req, st) => this.#dispatch(req, st));
    transactions.on('ack', (ack, flow) => {
      this.#proxy!.handleAck(ack, flow).catch((err) => this.#log.error({ err }, 'SIP ACK handling failed'));
    });
    transactions.on('strayResponse', (res) => {
      try {
        this.#proxy!.handleStrayResponse(res);
      } catch (err) {
        this.#log.error({ err }, 'SIP stray response handling failed');
      }
    });
    this.transport.on('flowClosed', (flow) => {
      this.#o.callLog.flowClosed(flow.id);
      this.#media!.flowClosed(flow.id);
      this.#registrar!.flowClosed(flow).catch((err) => this.#log.error({ err }, 'SIP flow cleanup failed'));
    });
  }

  /** rtpengine's address, when calls can be bridged. */
  get mediaBridgeAddress(): string | undefined {
    return this.#bridge?.address;
  }

  async stop(): Promise<void> {
    this.#media?.dispose();
    this.#bridge?.close();
    this.#transactions?.dispose();
    await this.transport.stop();
  }

  #dispatch(req: SipRequest, st: ServerTransaction): void {
    const handler = req.method === 'REGISTER' ? this.#registrar!.handle(req, st) : this.#proxy!.handleRequest(req, st);
    handler.catch((err: unknown) => {
      // Headers are parsed when a handler first reads them: one that does not parse is the
      // request's fault (400, RFC 3261 §21.4.1), not ours.
      if (!st.isFinal && HEADER_PARSE_ERRORS.some((E) => err instanceof E)) {
        this.#log.debug({ method: req.method, callId: req.callId, err: (err as Error).message }, 'SIP request with a malformed header');
        const why = (err as Error).message.replace(/["\\]/g, "'");
        st.respond(createResponse(req, 400, { reason: 'Malformed Header', headers: [['Warning', `399 ${this.domain.advertisedHost} "${why}"`]] }));
        return;
      }
      this.#log.error({ err, method: req.method, callId: req.callId }, 'SIP request handling failed');
      if (!st.isFinal) st.respond(createResponse(req, 500));
    });
  }
}
