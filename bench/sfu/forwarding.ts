/**
 * The same forwarding job done two ways, each on its own mediasoup worker: a bare router with
 * plain-RTP producers and consumers (the floor), and a Parley room (participants, active
 * speaker observer, priorities, paused-then-resumed consumers, notifications) whose
 * participants' transports are plain RTP instead of WebRTC. Senders are fed by ffmpeg; every
 * receiver consumes every stream and sends it to a sink that does not read.
 */
import type { types } from 'mediasoup';
import { createLogger } from '../../server-common/logger.js';
import { loadMediasoup } from '../../sfu/src/media/loadMediasoup.js';
import { conferenceMediaCodecs } from '../../sfu/src/media/mediaCodecs.js';
import { WorkerPool } from '../../sfu/src/media/workerPool.js';
import { Room, type MediaTransportFactory } from '../../sfu/src/rooms/room.js';
import { rtpParameters, type RtpStream } from './rtpSource.js';

export interface ForwardingSetup {
  readonly label: string;
  readonly worker: types.Worker;
  /** Where ffmpeg sends each stream. */
  readonly streams: RtpStream[];
  /** Adds receivers that each consume every stream; resolves when all their consumers run. */
  addReceivers(n: number): Promise<void>;
  readonly consumerCount: number;
  producers(): types.Producer[];
  consumers(): types.Consumer[];
  close(): void;
}

type Kinds = Array<'audio' | 'video'>;
const LOOPBACK = { protocol: 'udp', ip: '127.0.0.1' } as const;

/** ffmpeg sends RTCP from its own port: without RTCP mux, comedia learns each address from its packets. */
const plainSend = (router: types.Router) => router.createPlainTransport({ listenInfo: LOOPBACK, rtcpMux: false, comedia: true });
const destination = (t: types.PlainTransport) => ({ port: t.tuple.localPort, rtcpPort: t.rtcpTuple!.localPort });

async function plainRecv(router: types.Router, sinkPort: number): Promise<types.PlainTransport> {
  const t = await router.createPlainTransport({ listenInfo: LOOPBACK, rtcpMux: true, comedia: false });
  await t.connect({ ip: '127.0.0.1', port: sinkPort });
  return t;
}

let nextSsrc = 1000;

/** mediasoup alone: what forwarding costs with nothing around it. */
export class BareRouterSetup implements ForwardingSetup {
  readonly label = 'bare mediasoup router';
  consumerCount = 0;
  readonly #producers: types.Producer[];
  readonly #consumers: types.Consumer[] = [];

  private constructor(
    readonly worker: types.Worker,
    readonly router: types.Router,
    producers: types.Producer[],
    readonly streams: RtpStream[],
    readonly sinkPort: number,
  ) {
    this.#producers = producers;
  }

  static async create(kinds: Kinds, sinkPort: number): Promise<BareRouterSetup> {
    const mediasoup = await loadMediasoup();
    const worker = await mediasoup.createWorker({ logLevel: 'warn' });
    const router = await worker.createRouter({ mediaCodecs: conferenceMediaCodecs });
    const producers: types.Producer[] = [];
    const streams: RtpStream[] = [];
    for (const kind of kinds) {
      const transport = await plainSend(router);
      const ssrc = nextSsrc++;
      producers.push(await transport.produce({ kind, rtpParameters: rtpParameters({ kind, ssrc }) }));
      streams.push({ kind, ssrc, ...destination(transport) });
    }
    return new BareRouterSetup(worker, router, producers, streams, sinkPort);
  }

  async addReceivers(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const transport = await plainRecv(this.router, this.sinkPort);
      for (const producer of this.#producers) {
        this.#consumers.push(await transport.consume({ producerId: producer.id, rtpCapabilities: this.router.rtpCapabilities }));
        this.consumerCount++;
      }
    }
  }

  producers(): types.Producer[] {
    return this.#producers;
  }

  consumers(): types.Consumer[] {
    return this.#consumers;
  }

  close(): void {
    this.worker.close();
  }
}

/** Parley's Room on a one-worker pool, as a meeting uses it. */
export class ParleyRoomSetup implements ForwardingSetup {
  readonly label = "Parley's room";
  readonly #pool: WorkerPool;
  readonly #room: Room;
  readonly #senders: number;
  #receivers = 0;

  private constructor(pool: WorkerPool, room: Room, readonly streams: RtpStream[]) {
    this.#pool = pool;
    this.#room = room;
    this.#senders = streams.length;
  }

  static async create(kinds: Kinds, sinkPort: number): Promise<ParleyRoomSetup> {
    const logger = createLogger('warn', 'bench');
    const pool = new WorkerPool({ workers: 1, listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', rtcPort: 0, logger });
    await pool.start();
    const transportFactory: MediaTransportFactory = ({ router: { router }, direction }) =>
      direction === 'send' ? plainSend(router) : plainRecv(router, sinkPort);
    const room = await Room.create({
      name: 'bench',
      pool,
      consumersPerWorker: Number.MAX_SAFE_INTEGER,
      maxParticipants: 100_000,
      maxIncomingBitrate: 10_000_000,
      logger,
      transportFactory,
    });
    const streams: RtpStream[] = [];
    for (const [i, kind] of kinds.entries()) {
      // One sender per stream (a plain transport learns one source address); senders receive nothing.
      const sender = await room.join({ id: `sender-${i}`, userId: `sender-${i}`, displayName: `Sender ${i}`, role: 'member', notify: () => {} });
      const { send } = await room.createTransports(sender, { codecs: [], headerExtensions: [] });
      const ssrc = nextSsrc++;
      await room.produce(sender, { kind, source: kind === 'audio' ? 'mic' : 'camera', rtpParameters: rtpParameters({ kind, ssrc }), height: 360 });
      streams.push({ kind, ssrc, ...destination(send as types.PlainTransport) });
    }
    return new ParleyRoomSetup(pool, room, streams);
  }

  get worker(): types.Worker {
    return this.#pool.workers[0].worker;
  }

  get consumerCount(): number {
    return this.#pool.workers[0].consumers;
  }

  async addReceivers(n: number): Promise<void> {
    const room = this.#room;
    for (let i = 0; i < n; i++) {
      const id = `receiver-${this.#receivers++}`;
      const participant = await room.join({
        id,
        userId: id,
        displayName: id,
        role: 'member',
        // What a browser does with a new consumer once its track is set up: ask for it to run.
        notify: (name, data) => {
          if (name === 'newConsumer') void room.resumeConsumer(participant, (data as { consumerId: string }).consumerId).catch(() => {});
        },
      });
      await room.createTransports(participant, room.routerRtpCapabilities);
    }
    const expected = this.#receivers * this.#senders;
    for (let i = 0; i < 600 && this.consumerCount < expected; i++) await new Promise((r) => setTimeout(r, 50));
    if (this.consumerCount < expected) throw new Error(`only ${this.consumerCount} of ${expected} consumers were created`);
    // Let the resume requests land.
    await new Promise((r) => setTimeout(r, 300));
  }

  producers(): types.Producer[] {
    return this.#entries().flatMap((p) => [...p.producers.values()].map((e) => e.producer));
  }

  consumers(): types.Consumer[] {
    return this.#entries().flatMap((p) => [...p.consumers.values()].map((e) => e.consumer));
  }

  #entries() {
    return this.#room.participants().flatMap((info) => this.#room.participant(info.id) ?? []);
  }

  close(): void {
    this.#room.close('benchmark over');
    this.#pool.close();
  }
}

export interface Measurement {
  /** Worker CPU over the window, as a share of one core. */
  cpu: number;
  /** RTP packets the producers received, and lost on the way in (sequence gaps). */
  packetsIn: number;
  lost: number;
  /** Packets the consumers sent, against what they would have sent forwarding everything received. */
  delivered: number;
}

/** Worker CPU, input loss and forwarding completeness over a window. */
export async function measure(setup: ForwardingSetup, seconds: number): Promise<Measurement> {
  // A consumer's statistics carry its own packets sent and its producer's packets received,
  // read in one go: their ratio does not depend on how long reading thousands of them takes.
  const counters = async () => {
    let received = 0;
    let lost = 0;
    for (const p of setup.producers()) {
      for (const s of await p.getStats()) {
        received += s.packetCount;
        lost += s.packetsLost;
      }
    }
    const forwarding = new Map<string, { sent: number; source: number }>();
    for (const c of setup.consumers()) {
      const row = { sent: 0, source: 0 };
      for (const s of await c.getStats()) {
        if (s.type === 'outbound-rtp') row.sent += s.packetCount;
        else row.source += s.packetCount;
      }
      forwarding.set(c.id, row);
    }
    return { received, lost, forwarding };
  };
  const cpu = async () => {
    const u = await setup.worker.getResourceUsage();
    return { ms: u.ru_utime + u.ru_stime, at: performance.now() };
  };
  // Reading thousands of statistics costs the worker CPU too: keep that outside the CPU window.
  const a = await counters();
  const cpu0 = await cpu();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu1 = await cpu();
  const b = await counters();
  let expected = 0;
  let sent = 0;
  for (const [id, after] of b.forwarding) {
    const before = a.forwarding.get(id);
    if (!before) continue;
    expected += after.source - before.source;
    sent += after.sent - before.sent;
  }
  return {
    cpu: (cpu1.ms - cpu0.ms) / (cpu1.at - cpu0.at),
    packetsIn: b.received - a.received,
    lost: Math.max(0, b.lost - a.lost),
    delivered: expected > 0 ? sent / expected : 0,
  };
}
