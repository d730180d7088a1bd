/**
 * Settings of an SFU node, read from the environment (the embedded node inside the gateway
 * and a standalone node read the same variables). Every limit is named and has a default.
 */
import os from 'node:os';
import { z } from 'zod';

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);

const sfuEnvSchema = z.object({
  /** Node id in the registry; defaults to host name + signalling port. */
  PARLEY_SFU_NODE_ID: z.string().min(1).max(100).optional(),
  /** mediasoup workers (processes); one per core by default. */
  PARLEY_SFU_WORKERS: int(os.availableParallelism(), 1, 64),
  /** Address the media sockets bind to. */
  PARLEY_SFU_LISTEN_IP: z.string().default('0.0.0.0'),
  /** Address put in ICE candidates; defaults to the machine's first non-loopback IPv4 address (else 127.0.0.1). */
  PARLEY_SFU_ANNOUNCED_ADDRESS: z.string().optional(),
  /** Worker i takes this port + i, for both UDP and TCP: one firewall rule per worker, not a port range. */
  PARLEY_SFU_RTC_PORT: int(40000, 0, 65535),
  /** Standalone node: HTTP port of its signalling endpoint /sfu. */
  PARLEY_SFU_PORT: int(4443, 0, 65535),
  PARLEY_SFU_HTTP_HOST: z.string().default('0.0.0.0'),
  /** Standalone node: the WebSocket URL clients reach it at (default ws://<announced address>:<port>/sfu). */
  PARLEY_SFU_PUBLIC_URL: z.string().optional(),
  /** The node refuses new conferences past these limits (the registry then picks another node). */
  PARLEY_SFU_MAX_CONFERENCES: int(200, 1),
  PARLEY_SFU_MAX_CONSUMERS: int(2000, 1),
  PARLEY_SFU_MAX_PARTICIPANTS: int(100, 2),
  /** A room whose worker forwards more than this many streams grows onto another worker (piped). */
  PARLEY_SFU_CONSUMERS_PER_WORKER: int(500, 1),
  /** An empty conference keeps its node this long, so a quick rejoin lands in the same room. */
  PARLEY_SFU_EMPTY_GRACE_SECONDS: int(20, 0),
  PARLEY_SFU_HEARTBEAT_MS: int(2000, 50),
  /** A node missing heartbeats this long is dead; its conferences move on the next join. */
  PARLEY_SFU_NODE_TTL_MS: int(6000, 150),
  PARLEY_SFU_PIN_TTL_MS: int(30_000, 200),
  /** Signalling messages larger than this close the connection. */
  PARLEY_SFU_MAX_MESSAGE_BYTES: int(64 * 1024, 4096),
  /** Signalling requests per second per participant (token bucket, burst 2 s worth). */
  PARLEY_SFU_RATE_PER_SECOND: int(50, 1),
  /** Bit rate a participant's camera may send, all simulcast layers together. */
  PARLEY_SFU_MAX_INCOMING_BITRATE: int(3_000_000, 100_000),
  /** Shared with the gateway: signs the join tokens (required for standalone nodes). */
  PARLEY_SFU_SECRET: z.string().min(32).optional(),
  REDIS_URL: z.string().optional(),
  PARLEY_REDIS_PREFIX: z.string().default('parley'),
  PARLEY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SfuConfig = z.infer<typeof sfuEnvSchema> & { announcedAddress: string };

export function loadSfuConfig(env: NodeJS.ProcessEnv = process.env): SfuConfig {
  const parsed = sfuEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid SFU configuration: ${problems}`);
  }
  const config = parsed.data;
  return { ...config, announcedAddress: config.PARLEY_SFU_ANNOUNCED_ADDRESS ?? defaultAnnouncedAddress(config.PARLEY_SFU_LISTEN_IP) };
}

function defaultAnnouncedAddress(listenIp: string): string {
  if (listenIp !== '0.0.0.0' && listenIp !== '::') return listenIp;
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
