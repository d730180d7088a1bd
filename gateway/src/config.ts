/**
 * Every setting of the gateway, read once from the environment.
 *
 * Each limit is a named setting with a default that suits one machine serving a few
 * thousand users; operators override them with environment variables. zod validates
 * the values so a typo fails at start with a message naming the variable.
 */
import cluster from 'node:cluster';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { iceServer, type IceServer } from '../../contracts/rest/ice.js';
import { loadSfuConfig, type SfuConfig } from '../../sfu/src/index.js';
import { IdentityConfigError, loadIdentityProviders, type IdentityProvidersConfig } from './identity/identityConfig.js';

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const port = (def: number) => int(def, 0, 65535);

const envSchema = z.object({
  PORT: port(8080),
  PARLEY_HTTP_HOST: z.string().default('0.0.0.0'),
  PARLEY_DOMAIN: z.string().min(1).default('localhost'),
  PARLEY_DATA: z.string().default('./data'),
  PARLEY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Public base URL printed at start and used in links (defaults to http://localhost:PORT). */
  PARLEY_PUBLIC_URL: z.string().optional(),
  /** Secret for signing nonces, route tokens and SIP session credentials; generated into the data dir when unset. */
  PARLEY_SECRET: z.string().min(32).optional(),

  // Storage
  /** postgres://user:password@host:port/database — every durable record in PostgreSQL; unset: SQLite files in PARLEY_DATA. */
  DATABASE_URL: z.string().optional(),
  /** Most PostgreSQL connections one gateway opens. */
  DATABASE_POOL_SIZE: int(10, 1, 1000),
  /** Where uploaded files go (shared storage, e.g. NFS, when several gateways serve the same users); default PARLEY_DATA/uploads. */
  PARLEY_UPLOAD_DIR: z.string().optional(),

  // Web sessions
  PARLEY_SESSION_TTL_SECONDS: int(12 * 3600, 60),
  PARLEY_LOGIN_MAX_FAILURES: int(10, 1),
  PARLEY_LOGIN_FAILURE_WINDOW_SECONDS: int(300, 1),
  /** scrypt cost as log2(N) for the web-login password hash; lower only for benchmarks. */
  PARLEY_PASSWORD_HASH_COST: int(15, 10, 20),
  PARLEY_SCRAM_ITERATIONS: int(4096, 1024),
  /** Most app passwords (one per phone or XMPP client) one user may hold. */
  PARLEY_APP_PASSWORDS_MAX: int(20, 1, 1000),
  /** How long a provisioning link (a softphone imports its account from it, e.g. by QR code) works. */
  PARLEY_PROVISIONING_LINK_MINUTES: int(15, 1, 24 * 60),
  /** A JSON file naming the organisation's OpenID Connect providers, SAML IdPs and federations (README). */
  PARLEY_IDENTITY_PROVIDERS: z.string().optional(),
  /** false: no sign-in with local passwords on the web page (identity providers only). */
  PARLEY_LOCAL_LOGIN: z.enum(['true', 'false']).default('true'),

  // SIP
  SIP_PORT: port(5060),
  /** SIP over TLS (sips: and ;transport=tls), with the certificate below or XMPP's. */
  SIP_TLS_PORT: port(5061),
  PARLEY_SIP_TLS: z.enum(['true', 'false']).default('true'),
  /** PEM files for SIP over TLS; default: PARLEY_XMPP_TLS_CERT/KEY, else the generated self-signed one. */
  PARLEY_SIP_TLS_CERT: z.string().optional(),
  PARLEY_SIP_TLS_KEY: z.string().optional(),
  PARLEY_SIP_HOST: z.string().default('0.0.0.0'),
  /** Host put into Via and Record-Route for UDP/TCP peers; defaults to 127.0.0.1 for the localhost domain, else the domain. */
  PARLEY_SIP_ADVERTISED_HOST: z.string().optional(),
  /**
   * Digest algorithms offered, most preferred first (RFC 8760: a client answers the topmost it
   * supports). MD5 alone by default: baresip 1.0 (libre) refuses a whole 401 that carries any
   * challenge it does not know, and sipp and JsSIP know only MD5. See the README.
   */
  PARLEY_SIP_DIGEST_ALGORITHMS: z.string().default('MD5'),
  PARLEY_SIP_NONCE_TTL_SECONDS: int(300, 5),
  PARLEY_SIP_MAX_MESSAGE_BYTES: int(65535, 1024, 1 << 20),
  PARLEY_SIP_MAX_HEADERS: int(128, 16, 1024),
  PARLEY_SIP_MIN_EXPIRES: int(60, 1),
  PARLEY_SIP_MAX_EXPIRES: int(3600, 60),
  PARLEY_SIP_DEFAULT_EXPIRES: int(600, 60),
  PARLEY_SIP_MAX_BINDINGS_PER_USER: int(10, 1),
  PARLEY_SIP_MAX_CONNECTIONS_PER_IP: int(256, 1),
  /** Requests per second accepted from one source IP (token bucket, burst = 2 s worth); 0 disables. */
  PARLEY_SIP_RATE_PER_IP: int(2000, 0),
  /** RFC 3261 Timer C: a proxied INVITE with no final answer is cancelled after this long. */
  PARLEY_SIP_INVITE_TIMEOUT_SECONDS: int(120, 10, 600),

  // Media bridge (rtpengine) between browsers and phones that speak other media profiles
  /**
   * rtpengine's ng control address (udp:host:port); `auto` (the default) uses Debian's
   * rtpengine-daemon on udp:127.0.0.1:2223 when it answers at start; `off`: no bridge (calls
   * that need one get 488 with the reason).
   */
  PARLEY_MEDIA_BRIDGE: z.string().default('auto'),
  /** Send every call through the bridge, browser to browser too (media from a fixed address, never peer to peer). */
  PARLEY_MEDIA_BRIDGE_ALWAYS: z.enum(['true', 'false']).default('false'),
  /** Calls one gateway node keeps in the bridge at once; more are refused with 503. */
  PARLEY_MEDIA_BRIDGE_MAX_CALLS: int(2000, 1),
  /** How often the gateway asks rtpengine which bridged calls it ended by itself (no media for its --timeout: a phone gone without BYE). */
  PARLEY_MEDIA_BRIDGE_CHECK_SECONDS: int(30, 1, 3600),

  // XMPP
  XMPP_C2S_PORT: port(5222),
  PARLEY_XMPP_HOST: z.string().default('0.0.0.0'),
  /** Largest stanza accepted (bytes); a bigger one ends the stream with <policy-violation/>. */
  PARLEY_XMPP_MAX_STANZA: int(256 * 1024, 1024, 16 * 1024 * 1024),
  /** Stanzas per second per connection (token bucket, burst 2 s worth); 0 disables. */
  PARLEY_XMPP_RATE_STANZAS_PER_SECOND: int(100, 0),
  PARLEY_XMPP_MAX_SESSIONS_PER_USER: int(10, 1),
  /** TCP clients must STARTTLS before authenticating (loopback connections excepted). */
  PARLEY_XMPP_REQUIRE_TLS: z.enum(['true', 'false']).default('true'),
  PARLEY_XMPP_TLS_CERT: z.string().optional(),
  PARLEY_XMPP_TLS_KEY: z.string().optional(),
  /** How long a dropped stream-management session waits for the client to resume. */
  PARLEY_XMPP_RESUME_SECONDS: int(300, 0, 3600),
  /** Messages to users who have not accepted the sender as a contact: refused (default) or allowed. */
  PARLEY_XMPP_STRANGER_MESSAGES: z.enum(['refuse', 'allow']).default('refuse'),
  PARLEY_XMPP_OFFLINE_MAX: int(1000, 0),
  PARLEY_MUC_HISTORY: int(20, 0, 1000),
  PARLEY_UPLOAD_MAX_BYTES: int(10 * 1024 * 1024, 1024),
  PARLEY_UPLOAD_SLOT_SECONDS: int(300, 10),

  // Media
  /** JSON array of RTCIceServer objects given to browsers. */
  PARLEY_ICE_SERVERS: z.string().default('[]'),
  /** Shared secret of a TURN server using the TURN REST API (coturn use-auth-secret). */
  PARLEY_TURN_SECRET: z.string().optional(),
  PARLEY_TURN_URLS: z.string().optional(),
  PARLEY_TURN_TTL_SECONDS: int(3600, 60),
  /** `relay`: browsers' calls use only TURN relays (the user's address never reaches the other side); `all`: any path. */
  PARLEY_ICE_TRANSPORT_POLICY: z.enum(['all', 'relay']).default('all'),

  // Conferences (the SFU node's own settings are in sfu/src/config.ts)
  /** Run an SFU node inside the gateway (the one-machine default); false when SFU nodes run on their own. */
  PARLEY_SFU_EMBEDDED: z.enum(['true', 'false']).default('true'),
  /** Lifetime of the token that admits one user to one conference on one SFU node. */
  PARLEY_CONFERENCE_JOIN_TOKEN_SECONDS: int(60, 10, 3600),
  /** Default and longest lifetime of a guest link a meeting's owner makes. */
  PARLEY_GUEST_LINK_HOURS: int(7 * 24, 1, 90 * 24),
  /** Meetings one account may create per hour. */
  PARLEY_CONFERENCE_CREATE_PER_HOUR: int(60, 1),

  // Several gateway nodes (REDIS_URL set): live state in Redis, see the README's scale-out section
  /** This node's name among the gateway nodes; default <hostname>-<PORT>. */
  PARLEY_NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only').optional(),
  /** Address the other nodes reach this node's SIP listener on; default PARLEY_SIP_ADVERTISED_HOST. */
  PARLEY_NODE_HOST: z.string().optional(),
  /** TCP port of this node's own SIP listener for node-to-node requests; 0 = the SIP port (fine when each node has its own). */
  PARLEY_NODE_SIP_PORT: port(0),
  /** A node that has not sent a heartbeat for this long is taken for dead: its sessions and bindings vanish. */
  PARLEY_NODE_TTL_MS: int(4000, 1000, 60_000),
  /** Gateway nodes `npm start` runs on this machine, sharing its ports (needs REDIS_URL and DATABASE_URL); 1 = one process. */
  PARLEY_NODES: int(1, 1, 64),
  /** Listen for SIP on UDP too (of nodes sharing a SIP address on one machine, only one does). */
  PARLEY_SIP_UDP: z.enum(['true', 'false']).default('true'),
  /** Hand WebSocket /sfu on to this SFU node (http://host:port) instead of running one inside (set by PARLEY_NODES). */
  PARLEY_SFU_UPSTREAM: z.string().url().optional(),

  // Embedding (widget.js)
  /** Origins (scheme://host[:port], comma-separated) whose pages may frame Parley's widgets; empty = none. */
  PARLEY_EMBED_ORIGINS: z.string().default(''),
  /** Origins whose web pages may use XMPP over BOSH (CORS), e.g. Converse.js on a portal. */
  PARLEY_XMPP_BOSH_ORIGINS: z.string().default(''),
});

export type Env = z.infer<typeof envSchema>;

export interface GatewayConfig {
  http: { port: number; host: string; publicUrl: string };
  domain: string;
  dataDir: string;
  /** Where durable records live: PostgreSQL when `url` is set, else SQLite files in dataDir. */
  database: { url?: string; poolSize: number };
  uploadDir: string;
  logLevel: Env['PARLEY_LOG_LEVEL'];
  secret?: string;
  auth: {
    sessionTtlSeconds: number;
    loginMaxFailures: number;
    loginFailureWindowSeconds: number;
    passwordHashCost: number;
    scramIterations: number;
    appPasswordsMax: number;
    provisioningLinkSeconds: number;
    /** Whether the sign-in page takes local passwords. */
    localLogin: boolean;
  };
  /** The identity providers people sign in through (none: local passwords only). */
  identity: IdentityProvidersConfig;
  sip: {
    port: number;
    /** undefined: no SIP over TLS. */
    tls?: { port: number; cert?: string; key?: string };
    host: string;
    advertisedHost: string;
    digestAlgorithms: DigestAlgorithmName[];
    nonceTtlSeconds: number;
    maxMessageBytes: number;
    maxHeaders: number;
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    maxBindingsPerUser: number;
    maxConnectionsPerIp: number;
    ratePerIp: number;
    inviteTimeoutSeconds: number;
    udp: boolean;
  };
  mediaBridge: {
    /** udp:host:port, or 'auto'; undefined: none. */
    url?: string;
    always: boolean;
    maxCalls: number;
    checkSeconds: number;
  };
  xmpp: {
    port: number;
    host: string;
    maxStanzaBytes: number;
    ratePerSecond: number;
    maxSessionsPerUser: number;
    requireTls: boolean;
    tlsCert?: string;
    tlsKey?: string;
    resumeSeconds: number;
    strangerMessages: 'refuse' | 'allow';
    offlineMax: number;
    mucHistory: number;
    uploadMaxBytes: number;
    uploadSlotSeconds: number;
    /** Other sites' origins allowed to call /http-bind from their pages (CORS). */
    boshOrigins: string[];
  };
  media: {
    iceServers: IceServer[];
    turn?: { secret: string; urls: string[]; ttlSeconds: number };
    iceTransportPolicy: 'all' | 'relay';
  };
  conferences: {
    embeddedSfu: boolean;
    /** An SFU node the gateway hands its /sfu WebSockets to (PARLEY_NODES runs one for all nodes). */
    sfuUpstream?: string;
    joinTokenSeconds: number;
    guestLinkHours: number;
    createPerHour: number;
    redisUrl?: string;
    /** Shared with standalone SFU nodes; the embedded node uses the gateway's secret when unset. */
    sfuSecret?: string;
  };
  sfu: SfuConfig;
  /** Live state shared with the other gateway nodes; undefined when REDIS_URL is unset (one node, memory). */
  cluster?: {
    redisUrl: string;
    keyPrefix: string;
    nodeId: string;
    /** Where the other nodes send SIP for flows this node holds (TCP). */
    nodeHost: string;
    /** 0: the node's SIP port — unless `ownNodePort`, then one the system picks. */
    nodeSipPort: number;
    /** Listen for the other nodes on a port of this node's own (nodes sharing the SIP port). */
    ownNodePort: boolean;
    nodeTtlMs: number;
  };
  /** Nodes to run on this machine (PARLEY_NODES). */
  nodes: number;
  /** Origins allowed to frame /embed/* pages (Content-Security-Policy frame-ancestors). */
  embed: { origins: string[] };
}

export type DigestAlgorithmName = 'MD5' | 'SHA-256';

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid settings:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  let identity: IdentityProvidersConfig = { providers: [], saml: {} };
  try {
    if (e.PARLEY_IDENTITY_PROVIDERS) identity = loadIdentityProviders(e.PARLEY_IDENTITY_PROVIDERS, env);
  } catch (err) {
    if (err instanceof IdentityConfigError) throw new ConfigError(err.message);
    throw err;
  }
  if (e.PARLEY_LOCAL_LOGIN === 'false' && !identity.providers.length) {
    throw new ConfigError('PARLEY_LOCAL_LOGIN=false leaves no way to sign in: configure an identity provider (PARLEY_IDENTITY_PROVIDERS) first');
  }
  const algorithms = e.PARLEY_SIP_DIGEST_ALGORITHMS.split(',').map((a) => a.trim().toUpperCase());
  for (const a of algorithms) {
    if (a !== 'MD5' && a !== 'SHA-256') {
      throw new ConfigError(`PARLEY_SIP_DIGEST_ALGORITHMS: unknown algorithm "${a}" (use MD5 and/or SHA-256)`);
    }
  }
  let iceServers: IceServer[];
  try {
    iceServers = z.array(iceServer).parse(JSON.parse(e.PARLEY_ICE_SERVERS));
  } catch {
    throw new ConfigError('PARLEY_ICE_SERVERS must be a JSON array of RTCIceServer objects ({"urls": "stun:host:3478"} …)');
  }
  if (e.PARLEY_SIP_MIN_EXPIRES > e.PARLEY_SIP_MAX_EXPIRES) {
    throw new ConfigError('PARLEY_SIP_MIN_EXPIRES must not exceed PARLEY_SIP_MAX_EXPIRES');
  }
  let sfu: SfuConfig;
  try {
    sfu = loadSfuConfig(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (e.DATABASE_URL && !/^postgres(ql)?:\/\//.test(e.DATABASE_URL)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/parley); leave it unset for SQLite');
  }
  const embeddedSfu = e.PARLEY_SFU_EMBEDDED === 'true';
  if (!embeddedSfu && !(sfu.REDIS_URL && sfu.PARLEY_SFU_SECRET)) {
    throw new ConfigError('PARLEY_SFU_EMBEDDED=false needs REDIS_URL and PARLEY_SFU_SECRET, shared with the SFU nodes');
  }
  const embedOrigins = originList('PARLEY_EMBED_ORIGINS', e.PARLEY_EMBED_ORIGINS);
  const boshOrigins = originList('PARLEY_XMPP_BOSH_ORIGINS', e.PARLEY_XMPP_BOSH_ORIGINS);
  const advertisedHost = e.PARLEY_SIP_ADVERTISED_HOST ?? (e.PARLEY_DOMAIN === 'localhost' ? '127.0.0.1' : e.PARLEY_DOMAIN);
  const turnUrls = e.PARLEY_TURN_URLS?.split(',').map((u) => u.trim()).filter(Boolean) ?? [];
  return {
    http: {
      port: e.PORT,
      host: e.PARLEY_HTTP_HOST,
      publicUrl: e.PARLEY_PUBLIC_URL ?? `http://localhost:${e.PORT}`,
    },
    domain: e.PARLEY_DOMAIN.toLowerCase(),
    dataDir: path.resolve(e.PARLEY_DATA),
    database: { url: e.DATABASE_URL || undefined, poolSize: e.DATABASE_POOL_SIZE },
    uploadDir: path.resolve(e.PARLEY_UPLOAD_DIR ?? path.join(e.PARLEY_DATA, 'uploads')),
    logLevel: e.PARLEY_LOG_LEVEL,
    secret: e.PARLEY_SECRET,
    auth: {
      sessionTtlSeconds: e.PARLEY_SESSION_TTL_SECONDS,
      loginMaxFailures: e.PARLEY_LOGIN_MAX_FAILURES,
      loginFailureWindowSeconds: e.PARLEY_LOGIN_FAILURE_WINDOW_SECONDS,
      passwordHashCost: e.PARLEY_PASSWORD_HASH_COST,
      scramIterations: e.PARLEY_SCRAM_ITERATIONS,
      appPasswordsMax: e.PARLEY_APP_PASSWORDS_MAX,
      provisioningLinkSeconds: e.PARLEY_PROVISIONING_LINK_MINUTES * 60,
      localLogin: e.PARLEY_LOCAL_LOGIN === 'true',
    },
    identity,
    sip: {
      port: e.SIP_PORT,
      tls:
        e.PARLEY_SIP_TLS === 'true'
          ? { port: e.SIP_TLS_PORT, cert: e.PARLEY_SIP_TLS_CERT ?? e.PARLEY_XMPP_TLS_CERT, key: e.PARLEY_SIP_TLS_KEY ?? e.PARLEY_XMPP_TLS_KEY }
          : undefined,
      host: e.PARLEY_SIP_HOST,
      advertisedHost,
      digestAlgorithms: algorithms as DigestAlgorithmName[],
      nonceTtlSeconds: e.PARLEY_SIP_NONCE_TTL_SECONDS,
      maxMessageBytes: e.PARLEY_SIP_MAX_MESSAGE_BYTES,
      maxHeaders: e.PARLEY_SIP_MAX_HEADERS,
      minExpires: e.PARLEY_SIP_MIN_EXPIRES,
      maxExpires: e.PARLEY_SIP_MAX_EXPIRES,
      defaultExpires: e.PARLEY_SIP_DEFAULT_EXPIRES,
      maxBindingsPerUser: e.PARLEY_SIP_MAX_BINDINGS_PER_USER,
      maxConnectionsPerIp: e.PARLEY_SIP_MAX_CONNECTIONS_PER_IP,
      ratePerIp: e.PARLEY_SIP_RATE_PER_IP,
      inviteTimeoutSeconds: e.PARLEY_SIP_INVITE_TIMEOUT_SECONDS,
      udp: e.PARLEY_SIP_UDP === 'true',
    },
    mediaBridge: {
      url: e.PARLEY_MEDIA_BRIDGE === 'off' || e.PARLEY_MEDIA_BRIDGE === '' ? undefined : e.PARLEY_MEDIA_BRIDGE,
      always: e.PARLEY_MEDIA_BRIDGE_ALWAYS === 'true',
      maxCalls: e.PARLEY_MEDIA_BRIDGE_MAX_CALLS,
      checkSeconds: e.PARLEY_MEDIA_BRIDGE_CHECK_SECONDS,
    },
    xmpp: {
      port: e.XMPP_C2S_PORT,
      host: e.PARLEY_XMPP_HOST,
      maxStanzaBytes: e.PARLEY_XMPP_MAX_STANZA,
      ratePerSecond: e.PARLEY_XMPP_RATE_STANZAS_PER_SECOND,
      maxSessionsPerUser: e.PARLEY_XMPP_MAX_SESSIONS_PER_USER,
      requireTls: e.PARLEY_XMPP_REQUIRE_TLS === 'true',
      tlsCert: e.PARLEY_XMPP_TLS_CERT,
      tlsKey: e.PARLEY_XMPP_TLS_KEY,
      resumeSeconds: e.PARLEY_XMPP_RESUME_SECONDS,
      strangerMessages: e.PARLEY_XMPP_STRANGER_MESSAGES,
      offlineMax: e.PARLEY_XMPP_OFFLINE_MAX,
      mucHistory: e.PARLEY_MUC_HISTORY,
      uploadMaxBytes: e.PARLEY_UPLOAD_MAX_BYTES,
      uploadSlotSeconds: e.PARLEY_UPLOAD_SLOT_SECONDS,
      boshOrigins,
    },
    media: {
      iceServers,
      turn: e.PARLEY_TURN_SECRET
        ? { secret: e.PARLEY_TURN_SECRET, urls: turnUrls, ttlSeconds: e.PARLEY_TURN_TTL_SECONDS }
        : undefined,
      iceTransportPolicy: e.PARLEY_ICE_TRANSPORT_POLICY,
    },
    conferences: {
      embeddedSfu,
      sfuUpstream: e.PARLEY_SFU_UPSTREAM,
      joinTokenSeconds: e.PARLEY_CONFERENCE_JOIN_TOKEN_SECONDS,
      guestLinkHours: e.PARLEY_GUEST_LINK_HOURS,
      createPerHour: e.PARLEY_CONFERENCE_CREATE_PER_HOUR,
      redisUrl: sfu.REDIS_URL,
      sfuSecret: sfu.PARLEY_SFU_SECRET,
    },
    sfu,
    cluster: sfu.REDIS_URL
      ? {
          redisUrl: sfu.REDIS_URL,
          keyPrefix: sfu.PARLEY_REDIS_PREFIX,
          nodeId: e.PARLEY_NODE_ID ?? `${os.hostname()}-${e.PORT}`,
          nodeHost: e.PARLEY_NODE_HOST ?? advertisedHost,
          nodeSipPort: e.PARLEY_NODE_SIP_PORT,
          ownNodePort: e.PARLEY_NODE_SIP_PORT !== 0 || cluster.isWorker,
          nodeTtlMs: e.PARLEY_NODE_TTL_MS,
        }
      : undefined,
    nodes: e.PARLEY_NODES,
    embed: { origins: embedOrigins },
  };
}

/** A comma-separated list of origins exactly as browsers send them (scheme://host[:port], no path), or a ConfigError. */
function originList(variable: string, list: string): string[] {
  return list
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
    .map((value) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new ConfigError(`${variable}: "${value}" is not an origin like https://www.example.org`);
      }
      if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== value.replace(/\/$/, '')) {
        throw new ConfigError(`${variable}: "${value}" must be only scheme://host[:port], like https://www.example.org`);
      }
      return url.origin;
    });
}
