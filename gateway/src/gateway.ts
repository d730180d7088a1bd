/**
 * Composition root: builds every part of a gateway node from its configuration and wires
 * them together. `main.ts` runs it as a process; tests start it in-process on free ports.
 *
 * gateway/ owns what users sign in to and talk through: the web origin (app, REST API,
 * widgets), accounts and sessions, the SIP registrar and proxy, the XMPP server, call records,
 * meetings and their admission (conferences/). It reaches the SFU only through its public
 * face (sfu/src/index.ts, sfu/src/registry/index.ts), and only here does it build the embedded
 * SFU node; contracts/ holds what it shares with the SFU and the browser.
 */
import fs from 'node:fs';
import type { Redis } from 'ioredis';
import os from 'node:os';
import path from 'node:path';
import { joinTokenKey } from '../../server-common/joinToken.js';
import type { Logger } from '../../server-common/logger.js';
import { packageRoot } from '../../server-common/packageRoot.js';
import { deriveKey } from '../../server-common/secret.js';
import { SfuNode } from '../../sfu/src/index.js';
import { createConferenceRegistry, type ConferenceRegistry } from '../../sfu/src/registry/index.js';
import { CallLog } from './calls/callLog.js';
import { HomeDirectory } from './cluster/homeDirectory.js';
import { NodeBus } from './cluster/nodeBus.js';
import { forwardUpgrade } from './http/upgradeForwarder.js';
import { NodeDirectory } from './cluster/nodeDirectory.js';
import { SharedThrottles, type ThrottleEnvelope } from './cluster/sharedThrottles.js';
import { ConferenceService } from './conferences/conferenceService.js';
import type { GatewayConfig } from './config.js';
import type { AccountStore } from './directory/accountStore.js';
import { AccountDirectory } from './directory/accountDirectory.js';
import { appPasswordIdOf, AppPasswords } from './directory/appPasswords.js';
import { AuthApi } from './http/api/authApi.js';
import { registerCallsApi } from './http/api/callsApi.js';
import { registerConferencesApi } from './http/api/conferencesApi.js';
import { registerDevicesApi } from './http/api/devicesApi.js';
import { IdentityApi } from './http/api/identityApi.js';
import { ExternalAccounts } from './identity/externalAccounts.js';
import { samlCredentials } from './identity/saml/samlCredentials.js';
import { SAML_REQUEST_MS } from './identity/signInFailed.js';
import { registerDirectoryApi } from './http/api/directoryApi.js';
import { registerHealthApi } from './http/api/healthApi.js';
import { registerIceApi } from './http/api/iceApi.js';
import { serveEmbedDemo } from './http/embedDemo.js';
import { HttpServer } from './http/httpServer.js';
import { LoginThrottle } from './session/loginThrottle.js';
import { SessionStore } from './session/sessionStore.js';
import type { DigestCredentialSource } from './sip/auth/digestAuthenticator.js';
import type { LocationStore } from './sip/registrar/locationStore.js';
import { MemoryLocationStore } from './sip/registrar/memoryLocationStore.js';
import { RedisLocationStore } from './sip/registrar/redisLocationStore.js';
import { XmppCluster, type XmppEnvelope } from './xmpp/cluster/xmppCluster.js';
import { SipService } from './sip/sipService.js';
import type { TimerValues } from './sip/transaction/timers.js';
import { Storage } from './storage/storage.js';
import { XmppAuthenticator } from './xmpp/session/sasl.js';
import { UploadService } from './xmpp/upload/uploadService.js';
import { XmppListeners } from './xmpp/xmppListeners.js';
import { XmppServer } from './xmpp/xmppServer.js';

export interface GatewayOptions {
  config: GatewayConfig;
  /** The opened records (Gateway.open opens them from the configuration). */
  storage: Storage;
  /** The server secret every node on the database shares (Storage.serverSecret). */
  secret: Buffer;
  logger: Logger;
  /** Defaults to dist/ under the package root. */
  staticDir?: string;
  sipTimers?: TimerValues;
  /** Where conferences are pinned: in Redis with config.conferences.redisUrl, else in memory (Gateway.open makes it). */
  registry: ConferenceRegistry;
  /** The connection for the live state the nodes share, with config.cluster (Gateway.open makes it). */
  redis?: Redis;
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly storage: Storage;
  readonly accounts: AccountDirectory;
  readonly sessions: SessionStore;
  readonly appPasswords: AppPasswords;
  readonly locations: LocationStore;
  readonly callLog: CallLog;
  readonly sip: SipService;
  readonly xmpp: XmppServer;
  readonly xmppListeners: XmppListeners;
  readonly uploads: UploadService;
  readonly http: HttpServer;
  readonly conferences: ConferenceService;
  readonly registry: ConferenceRegistry;
  /** The SFU node running inside this process (the one-machine default), if any. */
  readonly sfu: SfuNode | undefined;
  /** The other gateway nodes sharing the users (REDIS_URL), if any. */
  readonly nodes: NodeDirectory | undefined;
  readonly #redis: Redis | undefined;
  readonly #xmppCluster: XmppCluster | undefined;
  readonly #xmppBus: NodeBus<XmppEnvelope> | undefined;
  readonly #throttles: SharedThrottles | undefined;
  readonly #log: Logger;
  #purgeTimer: NodeJS.Timeout | undefined;
  #identityApi: IdentityApi | undefined;
  #stopWatching: (() => void) | undefined;

  /**
   * Opens the storage named by the configuration (SQLite in the data directory, or
   * DATABASE_URL), bringing its schema up to date, and builds the gateway on it. A database
   * that cannot be reached or migrated stops here with the reason.
   */
  static async open(options: Omit<GatewayOptions, 'storage' | 'secret' | 'registry' | 'redis'>): Promise<Gateway> {
    const { config, logger } = options;
    const storage = await Storage.open({
      databaseUrl: config.database.url,
      poolSize: config.database.poolSize,
      dataDir: config.dataDir,
      logger,
    });
    let registry: ConferenceRegistry | undefined;
    let redis: Redis | undefined;
    try {
      for (const m of storage.migrations) {
        if (m.applied.length) logger.info({ scope: m.scope, from: m.from, to: m.to, applied: m.applied.map((a) => a.name) }, 'database schema updated');
      }
      logger.info({ storage: storage.description }, 'records stored in');
      const secret = await storage.serverSecret(config.secret, config.dataDir);
      // Conferences: the registry says which SFU node hosts each one.
      registry = await createConferenceRegistry(config.conferences.redisUrl, {
        nodeTtlMs: config.sfu.PARLEY_SFU_NODE_TTL_MS,
        pinTtlMs: config.sfu.PARLEY_SFU_PIN_TTL_MS,
        keyPrefix: config.sfu.PARLEY_REDIS_PREFIX,
      });
      if (config.cluster) {
        // Loaded only here: a single-machine installation does not hold the Redis client.
        const ioredis = await import('ioredis');
        // One connection for the live state; commands of one event-loop turn go out together.
        redis = new ioredis.Redis(config.cluster.redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
        redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'Redis connection error'));
      }
      return new Gateway({ ...options, storage, secret, registry, redis });
    } catch (err) {
      redis?.disconnect();
      await registry?.close().catch(() => undefined);
      await storage.close();
      throw err;
    }
  }

  constructor(options: GatewayOptions) {
    const { config, logger, storage, secret } = options;
    this.config = config;
    this.#log = logger;
    const root = packageRoot();
    const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
    this.storage = storage;
    this.accounts = new AccountDirectory({
      records: storage.accounts,
      realm: config.domain,
      passwordHashCost: config.auth.passwordHashCost,
      scramIterations: config.auth.scramIterations,
    });
    this.appPasswords = new AppPasswords({
      records: storage.appPasswords,
      accounts: this.accounts,
      realm: config.domain,
      maxPerUser: config.auth.appPasswordsMax,
    });
    this.sessions = new SessionStore({
      records: storage.sessions,
      sipKey: deriveKey(secret, 'sip-session'),
      realm: config.domain,
      ttlSeconds: config.auth.sessionTtlSeconds,
    });
    const cluster = config.cluster;
    if (cluster) {
      if (!options.redis) throw new Error('a gateway node needs its Redis connection (Gateway.open makes it)');
      this.#redis = options.redis;
      const nodes = new NodeDirectory({
        redis: this.#redis,
        keyPrefix: cluster.keyPrefix,
        self: {
          id: cluster.nodeId,
          sipHost: cluster.nodeHost,
          sipPort: 0, // known once SIP listens
          store: config.database.url ? 'postgres' : `sqlite:${config.dataDir}`,
          startedAt: Date.now(),
          pid: process.pid,
        },
        ttlMs: cluster.nodeTtlMs,
        logger,
      });
      this.nodes = nodes;
      this.locations = new RedisLocationStore({
        redis: this.#redis,
        keyPrefix: cluster.keyPrefix,
        nodeId: cluster.nodeId,
        isNodeAlive: (id) => nodes.isAlive(id),
      });
      const bus = new NodeBus<XmppEnvelope>({ ...this.#busOptions(this.#redis, nodes), channel: 'xmpp' });
      this.#xmppBus = bus;
      this.#xmppCluster = new XmppCluster({ bus, nodes, rooms: new HomeDirectory(this.#redis, cluster.keyPrefix, 'muc', nodes) });
    } else {
      this.locations = new MemoryLocationStore();
    }
    this.callLog = new CallLog(storage.calls, logger);
    this.sip = new SipService({
      config,
      accounts: this.accounts,
      credentials: credentialSource(this.accounts, this.sessions, this.appPasswords),
      credentialUsed: (credential, by) => this.appPasswords.used(credential, by),
      locations: this.locations,
      callLog: this.callLog,
      routeKey: deriveKey(secret, 'sip-route'),
      cluster: cluster && {
        nodeId: cluster.nodeId,
        nodeHost: cluster.nodeHost,
        nodeSipPort: cluster.nodeSipPort,
        ownNodePort: cluster.ownNodePort,
        address: (id) => {
          const node = this.nodes?.get(id);
          return node && this.nodes!.isAlive(id) ? { host: node.sipHost, port: node.sipPort } : undefined;
        },
        isNodeAddress: (ip) => this.nodes?.others().some((n) => n.sipHost === ip) ?? false,
      },
      logger,
      timers: options.sipTimers,
    });

    this.uploads = new UploadService({
      domain: config.domain,
      records: storage.uploads,
      dir: config.uploadDir,
      key: deriveKey(secret, 'upload'),
      publicUrl: () => this.http.publicUrl,
      maxBytes: config.xmpp.uploadMaxBytes,
      slotSeconds: config.xmpp.uploadSlotSeconds,
    });
    const xmppThrottle = new LoginThrottle(config.auth.loginMaxFailures, config.auth.loginFailureWindowSeconds * 1000, 0);
    this.xmpp = new XmppServer({
      config,
      storage,
      accounts: this.accounts,
      // Wrong passwords over XMPP count per account and address (not per address alone: NAT).
      auth: new XmppAuthenticator(this.accounts, this.sessions, this.appPasswords, xmppThrottle),
      services: [this.uploads],
      version,
      logger,
      cluster: this.#xmppCluster,
    });
    this.xmppListeners = new XmppListeners({ server: this.xmpp, dataDir: config.dataDir, logger });
    // Unified presence: a SIP call shows as "in a call" to the user's contacts.
    this.callLog.on('inCallChanged', (user, inCall) => this.xmpp.setInCall(user, inCall));

    this.http = new HttpServer({
      port: config.http.port,
      host: config.http.host,
      staticDir: options.staticDir ?? path.join(root, 'dist'),
      publicUrl: config.http.publicUrl,
      embedOrigins: config.embed.origins,
      logger,
    });
    const webThrottle = new LoginThrottle(config.auth.loginMaxFailures, config.auth.loginFailureWindowSeconds * 1000);
    if (this.nodes && this.#redis) {
      const bus = new NodeBus<ThrottleEnvelope>({ ...this.#busOptions(this.#redis, this.nodes), channel: 'auth' });
      this.#throttles = new SharedThrottles(bus, this.nodes, { sip: this.sip.loginThrottle, xmpp: xmppThrottle, web: webThrottle });
    }
    let identityApi: IdentityApi | undefined;
    const auth = new AuthApi({
      accounts: this.accounts,
      sessions: this.sessions,
      throttle: webThrottle,
      domain: config.domain,
      secureCookies: config.http.publicUrl.startsWith('https:'),
      sessionTtlSeconds: config.auth.sessionTtlSeconds,
      localLogin: config.auth.localLogin,
      idpLogoutUrl: (session) => identityApi!.logoutUrl(session.provider!, session.idpLogout),
      logger,
    });
    auth.register(this.http.router);
    identityApi = new IdentityApi({
      auth,
      samlRequests: storage.samlRequests,
      samlCredentials: () => samlCredentials(config.identity.saml, storage.secrets, config.domain),
      externalAccounts: new ExternalAccounts(this.accounts, storage.identities),
      providers: config.identity.providers,
      localLogin: config.auth.localLogin,
      publicUrl: () => this.http.publicUrl,
      transactionKey: new Uint8Array(deriveKey(secret, 'sign-in-transaction')),
      secureCookies: config.http.publicUrl.startsWith('https:'),
      logger,
    });
    identityApi.register(this.http.router);
    this.#identityApi = identityApi;
    registerDirectoryApi(this.http.router, auth, this.accounts, this.locations, config.domain);
    registerCallsApi(this.http.router, auth, this.callLog, this.accounts);
    registerIceApi(this.http.router, auth, config.media);
    registerDevicesApi(this.http.router, {
      auth,
      accounts: this.accounts,
      appPasswords: this.appPasswords,
      maxPerUser: config.auth.appPasswordsMax,
      domain: config.domain,
      serverHost: config.sip.advertisedHost,
      ports: () => ({ sipUdpTcp: this.sip.transport.port, sipTls: this.sip.transport.tlsPort, xmpp: this.xmppListeners.port }),
      publicUrl: () => this.http.publicUrl,
      provisioningKey: new Uint8Array(deriveKey(secret, 'provisioning')),
      provisioningSeconds: config.auth.provisioningLinkSeconds,
      provisionTls: Boolean(config.sip.tls?.cert),
      registerExpires: config.sip.defaultExpires,
      logger,
    });

    this.registry = options.registry;
    const sfuKey = joinTokenKey(config.conferences.sfuSecret ? Buffer.from(config.conferences.sfuSecret, 'utf8') : secret);
    if (config.conferences.embeddedSfu) {
      // Alone, clients reach the embedded node on whatever origin they loaded the app from;
      // next to other nodes (Redis), the registry must name this gateway's public address.
      const url = config.conferences.redisUrl ? `${config.http.publicUrl.replace(/^http/, 'ws')}/sfu` : '';
      const sfu = new SfuNode({
        config: config.sfu,
        nodeId: config.sfu.PARLEY_SFU_NODE_ID ?? `${os.hostname()}-${config.http.port}`,
        url,
        registry: this.registry,
        tokenKey: sfuKey,
        logger: logger.child({ part: 'sfu' }),
      });
      this.sfu = sfu;
      this.http.onUpgrade('/sfu', (req, socket, head) => sfu.handleUpgrade(req, socket, head));
    } else if (config.conferences.sfuUpstream) {
      const upstream = new URL(config.conferences.sfuUpstream);
      this.http.onUpgrade('/sfu', (req, socket, head) => forwardUpgrade(upstream, req, socket, head));
    }
    this.conferences = new ConferenceService({
      accounts: this.accounts,
      store: storage.conferences,
      embedKeys: storage.embedKeys,
      registry: this.registry,
      domain: config.domain,
      joinTokenKey: sfuKey,
      joinTokenSeconds: config.conferences.joinTokenSeconds,
      guestLinkKey: new Uint8Array(deriveKey(secret, 'guest-link')),
      guestLinkHours: config.conferences.guestLinkHours,
      embedKeyKey: new Uint8Array(deriveKey(secret, 'embed-key')),
      embedOrigins: config.embed.origins,
      createPerHour: config.conferences.createPerHour,
      logger,
    });
    registerConferencesApi(this.http.router, {
      auth,
      conferences: this.conferences,
      media: config.media,
      publicUrl: () => this.http.publicUrl,
    });
    registerHealthApi(this.http.router, version, async () => ({
      ...this.sip.stats,
      sip_bindings: await this.locations.size(),
      calls_active: this.callLog.activeCalls,
      xmpp_connections: this.xmpp.connections,
      xmpp_sessions: this.xmpp.connectedSessions,
      xmpp_bosh_sessions: this.xmppListeners.bosh.size,
      xmpp_rooms: this.xmpp.muc.roomCount,
      ...(this.nodes && {
        gateway_nodes: this.nodes.others().length + 1,
        xmpp_remote_sessions: this.#xmppCluster?.remoteSessionCount ?? 0,
        node_bus_sent_total: this.#xmppBus?.counts.sent ?? 0,
        node_bus_received_total: this.#xmppBus?.counts.received ?? 0,
      }),
      sfu_conferences: this.sfu?.rooms.size ?? 0,
      sfu_connections: this.sfu?.connectionCount ?? 0,
      sfu_consumers: this.sfu?.pool.totals().consumers ?? 0,
      sfu_producers: this.sfu?.pool.totals().producers ?? 0,
    }),
      {
        database: () => this.storage.db.get('SELECT 1 AS ok'),
        ...(this.#redis && { redis: () => this.#redis!.ping() }),
      },
      this.nodes?.id,
    );
    this.http.onUpgrade('/sip', (req, socket, head) => this.sip.transport.handleUpgrade(req, socket, head));
    this.http.onUpgrade('/xmpp', (req, socket, head) => this.xmppListeners.handleUpgrade(req, socket, head));
    this.http.onPrefix('/http-bind', (req, res) => this.xmppListeners.handleBosh(req, res));
    this.http.onPrefix('/upload/', (req, res, url) => this.uploads.handleHttp(req, res, url));
    this.http.onPrefix('/embed-demo', (req, res) => serveEmbedDemo(req, res, this.http.publicUrl));
  }

  async start(): Promise<void> {
    await this.#identityApi?.load();
    const stale = await this.accounts.countAccountsForOtherRealms();
    if (stale) {
      this.#log.warn(
        { accounts: stale, domain: this.config.domain },
        'some accounts were created under another PARLEY_DOMAIN: their SIP passwords must be set again (npx parley user passwd)',
      );
    }
    // Every gateway on the database hears each change, so what one caches stays true.
    this.#stopWatching = this.storage.db.onChange((topic) => {
      const [aggregate, key] = splitTopic(topic);
      if (aggregate === '*' || aggregate === 'accounts') this.accounts.invalidateCache(key);
      if (aggregate === '*' || aggregate === 'sessions' || aggregate === 'accounts') this.sessions.invalidateCache(key);
      if (aggregate === '*' || aggregate === 'apppasswords' || aggregate === 'accounts') this.appPasswords.invalidateCache(key);
      // A disabled account or a revoked app password ends what it opened, on every node.
      if ((aggregate === 'accounts' || aggregate === 'apppasswords') && key) this.#endRevoked([key]);
      else if (aggregate === '*') void this.#heldUsers().then((users) => this.#endRevoked(users));
    });
    await this.sip.start();
    if (this.nodes) {
      this.nodes.self.sipPort = this.sip.transport.nodePort;
      await this.nodes.start();
      this.#refuseUnsharedStores(this.nodes);
      this.#log.info({ node: this.nodes.id, others: this.nodes.others().map((n) => n.id) }, 'gateway node joined');
    }
    // With other nodes: waits until they told us their XMPP sessions (before clients come).
    await this.xmpp.start();
    await this.#throttles?.start();
    await this.xmppListeners.start();
    await this.http.listen();
    if (this.sfu) {
      // Calls and chat work without conferences: a missing mediasoup worker is reported, not fatal.
      await this.sfu.start().catch((err: Error) => {
        this.#log.error({ err: err.message }, 'conference server (mediasoup) could not start; meetings are unavailable');
      });
    }
    const purge = () => {
      void this.sessions.purgeExpired().catch((err: unknown) => this.#log.warn({ err }, 'could not purge expired sessions'));
      void this.storage.samlRequests.purge(Date.now() - SAML_REQUEST_MS).catch((err: unknown) => this.#log.warn({ err }, 'could not purge old SAML request ids'));
    };
    purge();
    this.#purgeTimer = setInterval(purge, 3600_000);
    this.#purgeTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#purgeTimer);
    this.#identityApi?.stop();
    await this.nodes?.stop();
    this.#stopWatching?.();
    await this.xmppListeners.stop();
    await this.#xmppCluster?.stop(); // after the sessions' last presence went out
    await this.#throttles?.stop();
    await this.sfu?.stop();
    await this.registry.close();
    await this.http.close();
    await this.sip.stop();
    await this.locations.close();
    await this.callLog.flush();
    await this.storage.close();
    this.#redis?.disconnect();
  }

  /**
   * Ends this node's XMPP sessions and the SIP registrations of `users` that credentials which
   * no longer count opened: every one of a disabled or removed account, those of a revoked app
   * password.
   */
  #endRevoked(users: string[]): void {
    for (const username of users) {
      void (async () => {
        const [account, ids] = await Promise.all([this.accounts.get(username), this.appPasswords.ids(username)]);
        const counts = (credential: string | undefined) => {
          if (!account || account.disabledAt !== undefined) return false;
          const id = appPasswordIdOf(credential);
          return id === undefined || ids.has(id);
        };
        const why = !account
          ? 'This account was removed'
          : account.disabledAt !== undefined
            ? 'This account was disabled by an administrator'
            : 'The app password this client signed in with was revoked';
        this.xmpp.endSessions(username, counts, why);
        await this.sip.registrar.endBindings(username, (b) => counts(b.credential));
      })().catch((err: unknown) => this.#log.warn({ err, user: username }, 'could not check live sessions against changed credentials'));
    }
  }

  /** Users with XMPP sessions or SIP registrations on this node. */
  async #heldUsers(): Promise<string[]> {
    const users = new Set(this.xmpp.localUsers());
    const suffix = `@${this.config.domain}`;
    for (const aor of await this.locations.heldAors()) if (aor.endsWith(suffix)) users.add(aor.slice(0, -suffix.length));
    return [...users];
  }

  #busOptions(redis: Redis, nodes: NodeDirectory) {
    return { redis, keyPrefix: this.config.cluster!.keyPrefix, nodeId: nodes.id, incarnation: nodes.self.startedAt, logger: this.#log };
  }

  /** Several nodes must share one database: SQLite files cannot be (DATABASE_URL names PostgreSQL). */
  #refuseUnsharedStores(nodes: NodeDirectory): void {
    const others = nodes.others();
    const stores = new Set([nodes.self.store, ...others.map((n) => n.store)]);
    if (!others.length || (stores.size === 1 && nodes.self.store === 'postgres')) return;
    throw new Error(
      `other gateway nodes (${others.map((n) => n.id).join(', ')}) share REDIS_URL but not this node's database (${[...stores].join(' vs ')}): ` +
        'several nodes need the same DATABASE_URL (PostgreSQL); SQLite files cannot be shared',
    );
  }
}

/** `accounts:alice` → ['accounts', 'alice']; `*` → ['*', undefined]. */
function splitTopic(topic: string): [string, string | undefined] {
  const colon = topic.indexOf(':');
  return colon < 0 ? [topic, undefined] : [topic.slice(0, colon), topic.slice(colon + 1)];
}

/** HA1 candidates for a user: the account's own, one per live web session, one per SIP app password. */
function credentialSource(accounts: AccountStore, sessions: SessionStore, appPasswords: AppPasswords): DigestCredentialSource {
  return {
    async ha1Candidates(username, hash) {
      const name = username.toLowerCase();
      // All at once: on a cold cache each is a database round trip.
      const [own, ofSessions, ofDevices] = await Promise.all([
        accounts.getDigestHa1(name, hash),
        sessions.sessionHa1s(name, hash),
        appPasswords.digestCandidates(name, hash),
      ]);
      if (own === undefined) return undefined;
      return [{ ha1: own, credential: 'account' }, ...ofSessions.map((ha1) => ({ ha1, credential: 'session' })), ...ofDevices];
    },
  };
}
