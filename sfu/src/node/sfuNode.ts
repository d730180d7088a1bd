/**
 * An SFU node: the worker pool, the rooms, the /sfu signalling endpoint, and the heartbeat
 * that tells the conference registry this node is alive, how loaded it is and which
 * conferences it hosts. The gateway embeds one; more run standalone (sfu/src/main.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../server-common/logger.js';
import { verifyJoinToken } from '../../../server-common/joinToken.js';
import type { SfuConfig } from '../config.js';
import { WorkerPool } from '../media/workerPool.js';
import type { ConferenceRegistry, SfuNodeStatus } from '../registry/conferenceRegistry.js';
import { RoomError } from '../rooms/roomError.js';
import { RoomManager } from '../rooms/roomManager.js';
import { SfuSignalling } from '../signalling/sfuSignalling.js';

export interface SfuNodeOptions {
  config: SfuConfig;
  nodeId: string;
  /** Signalling URL clients use ('' = the gateway's own origin, for the embedded node). */
  url: string;
  registry: ConferenceRegistry;
  /** Key that verifies join tokens (shared with the gateway). */
  tokenKey: Uint8Array;
  logger: Logger;
}

export class SfuNode {
  readonly id: string;
  readonly pool: WorkerPool;
  readonly rooms: RoomManager;
  readonly #options: SfuNodeOptions;
  readonly #signalling: SfuSignalling;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #heartbeatRunning: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SfuNodeOptions) {
    const { config, logger } = options;
    this.id = options.nodeId;
    this.#options = options;
    this.pool = new WorkerPool({
      workers: config.PARLEY_SFU_WORKERS,
      listenIp: config.PARLEY_SFU_LISTEN_IP,
      announcedAddress: config.announcedAddress,
      rtcPort: config.PARLEY_SFU_RTC_PORT,
      logger,
    });
    this.rooms = new RoomManager({
      pool: this.pool,
      maxConferences: config.PARLEY_SFU_MAX_CONFERENCES,
      emptyGraceMs: config.PARLEY_SFU_EMPTY_GRACE_SECONDS * 1000,
      room: {
        consumersPerWorker: config.PARLEY_SFU_CONSUMERS_PER_WORKER,
        maxParticipants: config.PARLEY_SFU_MAX_PARTICIPANTS,
        maxIncomingBitrate: config.PARLEY_SFU_MAX_INCOMING_BITRATE,
      },
      logger,
      beforeCreate: async (name) => {
        const holder = await options.registry.claim(name, this.id);
        if (holder !== this.id) {
          throw new RoomError('hosted-elsewhere', 'This meeting is hosted on another server; join again.');
        }
      },
    });
    this.rooms.on('released', (name) => {
      if (this.#stopped) return;
      options.registry.release(name, this.id).catch((err: Error) => {
        logger.warn({ conference: name, err: err.message }, 'could not release conference pin');
      });
    });
    this.#signalling = new SfuSignalling({
      nodeId: this.id,
      rooms: this.rooms,
      verifyToken: (token) => verifyJoinToken(token, options.tokenKey),
      maxMessageBytes: config.PARLEY_SFU_MAX_MESSAGE_BYTES,
      ratePerSecond: config.PARLEY_SFU_RATE_PER_SECOND,
      logger,
    });
  }

  async start(): Promise<void> {
    await this.pool.start();
    await this.heartbeat();
    this.#heartbeatTimer = setInterval(() => void this.heartbeat(), this.#options.config.PARLEY_SFU_HEARTBEAT_MS);
    this.#heartbeatTimer.unref();
  }

  /** What this node reports to the registry. */
  status(): SfuNodeStatus {
    const { config } = this.#options;
    const totals = this.pool.totals();
    return {
      id: this.id,
      url: this.#options.url,
      consumers: totals.consumers,
      producers: totals.producers,
      cpu: Number(totals.cpu.toFixed(3)),
      maxConferences: config.PARLEY_SFU_MAX_CONFERENCES,
      maxConsumers: config.PARLEY_SFU_MAX_CONSUMERS,
    };
  }

  /** One heartbeat (also run on a timer); never two at once. */
  heartbeat(): Promise<void> {
    if (this.#heartbeatRunning) return this.#heartbeatRunning;
    this.#heartbeatRunning = (async () => {
      try {
        await this.pool.sampleCpu();
        const { lost } = await this.#options.registry.publishNode(this.status(), this.rooms.hosted());
        for (const name of lost) {
          this.#options.logger.warn({ conference: name }, 'conference moved to another node');
          this.rooms.close(name, 'moved to another server');
        }
      } catch (err) {
        this.#options.logger.warn({ err: (err as Error).message }, 'registry heartbeat failed');
      } finally {
        this.#heartbeatRunning = undefined;
      }
    })();
    return this.#heartbeatRunning;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#signalling.handleUpgrade(req, socket, head);
  }

  get connectionCount(): number {
    return this.#signalling.connectionCount;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeatTimer);
    await this.#heartbeatRunning;
    await this.#options.registry.removeNode(this.id).catch(() => {});
    this.rooms.closeAll('server shutting down');
    this.#signalling.close();
    this.pool.close();
  }
}
