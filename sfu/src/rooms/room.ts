/**
 * A conference on this node: one mediasoup router (more when it outgrows its worker, piped
 * together), the participants, who sends what, and who is speaking.
 *
 * Every participant receives every other participant's streams; consumers start paused and
 * run once the client is ready. Video consumers follow the tile the client shows them in
 * (layer selection), screen shares and the active speaker get bandwidth first (priorities).
 */
import type { types } from 'mediasoup';
import type { Logger } from '../../../server-common/logger.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';
import { conferenceMediaCodecs } from '../media/mediaCodecs.js';
import type { MediaWorker, WorkerPool } from '../media/workerPool.js';
import type {
  MediaKind,
  MediaSource,
  ParticipantInfo,
  ParticipantRole,
  SfuNotifications,
} from '../../../contracts/sfu/signalling.js';
import { RoomError } from './roomError.js';
import { chooseSpatialLayer } from './layerSelection.js';
import { Participant, type ConsumerEntry, type Notify, type ProducerEntry, type RoomRouter } from './participant.js';

export interface RoomOptions {
  name: string;
  pool: WorkerPool;
  /** Past this many streams on the room's worker, new participants go to a router on another worker. */
  consumersPerWorker: number;
  maxParticipants: number;
  maxIncomingBitrate: number;
  logger: Logger;
  /** Makes participants' transports; WebRTC on the worker's WebRtcServer unless given. */
  transportFactory?: MediaTransportFactory;
}

/**
 * Makes one of a participant's two transports. Browsers get WebRTC transports (the default);
 * the benchmark feeds rooms over plain RTP to measure what a room costs beyond a bare router.
 */
export type MediaTransportFactory = (params: {
  router: RoomRouter;
  direction: 'send' | 'recv';
  participantId: string;
}) => Promise<types.Transport>;

const webRtcTransportFactory: MediaTransportFactory = ({ router: { router, worker }, participantId }) =>
  router.createWebRtcTransport({
    webRtcServer: worker.webRtcServer,
    enableUdp: true,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: 1_000_000,
    appData: { participantId },
  });

export type RoomEvents = {
  /** The last participant left. */
  empty: [];
  closed: [reason: string];
};

export interface JoinParams {
  id: string;
  userId: string;
  displayName: string;
  role: ParticipantRole;
  notify: Notify;
  /** This client's previous session, removed first (a rejoin after a network break). */
  resume?: { participantId: string; key: string };
}

type NewConsumer = SfuNotifications['newConsumer'];

const PRIORITY = { screen: 200, speaker: 100, camera: 10, mic: 150 } as const;
const KIND_OF: Record<MediaSource, MediaKind> = { mic: 'audio', camera: 'video', screen: 'video' };

export class Room extends TypedEmitter<RoomEvents> {
  readonly name: string;
  readonly #options: RoomOptions;
  readonly #primary: RoomRouter;
  readonly #routers = new Map<MediaWorker, RoomRouter>();
  readonly #participants = new Map<string, Participant>();
  readonly #speakerObserver: types.ActiveSpeakerObserver;
  /** Producers already piped to a router: key producerId/routerId. */
  readonly #piped = new Map<string, Promise<void>>();
  #activeSpeakerId: string | null = null;
  #closed = false;

  static async create(options: RoomOptions): Promise<Room> {
    const worker = options.pool.leastLoaded();
    const router = await worker.worker.createRouter({ mediaCodecs: conferenceMediaCodecs });
    const observer = await router.createActiveSpeakerObserver({ interval: 300 });
    return new Room(options, { worker, router }, observer);
  }

  private constructor(options: RoomOptions, primary: RoomRouter, observer: types.ActiveSpeakerObserver) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#primary = primary;
    this.#routers.set(primary.worker, primary);
    this.#speakerObserver = observer;
    observer.on('dominantspeaker', ({ producer }) => {
      const id = (producer.appData as { participantId?: string }).participantId ?? null;
      this.#setActiveSpeaker(id);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get participantCount(): number {
    return this.#participants.size;
  }

  get routerRtpCapabilities(): types.RtpCapabilities {
    return this.#primary.router.rtpCapabilities;
  }

  get activeSpeakerId(): string | null {
    return this.#activeSpeakerId;
  }

  /** Whether any of the room's routers lives on this worker. */
  usesWorker(worker: MediaWorker): boolean {
    return this.#routers.has(worker);
  }

  participants(): ParticipantInfo[] {
    return [...this.#participants.values()].map((p) => p.info());
  }

  participant(id: string): Participant | undefined {
    return this.#participants.get(id);
  }

  async join(params: JoinParams): Promise<Participant> {
    this.#assertOpen();
    if (params.resume) {
      const previous = this.#participants.get(params.resume.participantId);
      if (previous && previous.matchesResumeKey(params.resume.key)) this.leave(previous, 'replaced');
    }
    if (this.#participants.size >= this.#options.maxParticipants) {
      throw new RoomError('meeting-full', `This meeting is full (${this.#options.maxParticipants} people).`);
    }
    const router = await this.#routerForNewParticipant();
    this.#assertOpen();
    const participant = new Participant({ ...params, router });
    for (const other of this.#participants.values()) other.notify('participantJoined', participant.info());
    this.#participants.set(participant.id, participant);
    this.#options.logger.info({ room: this.name, participant: participant.id, worker: router.worker.index }, 'joined');
    return participant;
  }

  leave(participant: Participant, reason = 'left'): void {
    if (this.#participants.get(participant.id) !== participant) return;
    this.#participants.delete(participant.id);
    participant.close();
    for (const other of this.#participants.values()) other.notify('participantLeft', { participantId: participant.id });
    if (this.#activeSpeakerId === participant.id) this.#setActiveSpeaker(null);
    this.#options.logger.info({ room: this.name, participant: participant.id, reason }, 'left');
    if (this.#participants.size === 0) this.emit('empty');
  }

  async createTransports(
    participant: Participant,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<{ send: types.Transport; recv: types.Transport }> {
    if (participant.sendTransport || participant.recvTransport) {
      throw new RoomError('invalid', 'Transports already exist for this participant.');
    }
    const create = this.#options.transportFactory ?? webRtcTransportFactory;
    const params = { router: participant.router, participantId: participant.id };
    const send = await create({ ...params, direction: 'send' });
    const recv = await create({ ...params, direction: 'recv' });
    if (participant.closed) {
      send.close();
      recv.close();
      throw new RoomError('left', 'You left the meeting.');
    }
    await send.setMaxIncomingBitrate(this.#options.maxIncomingBitrate);
    participant.sendTransport = send;
    participant.recvTransport = recv;
    participant.rtpCapabilities = rtpCapabilities;
    // Offer everything already being sent, once the client has its transports.
    setImmediate(() => {
      for (const other of this.#participants.values()) {
        if (other === participant) continue;
        for (const entry of other.producers.values()) void this.#consume(participant, entry);
      }
    });
    return { send, recv };
  }

  transport(participant: Participant, transportId: string): types.Transport {
    const t = [participant.sendTransport, participant.recvTransport].find((x) => x?.id === transportId);
    if (!t) throw new RoomError('not-yours', 'No such transport in your session.');
    return t;
  }

  async produce(
    participant: Participant,
    request: { kind: MediaKind; rtpParameters: types.RtpParameters; source: MediaSource; paused?: boolean; height?: number },
  ): Promise<string> {
    const transport = participant.sendTransport;
    if (!transport) throw new RoomError('invalid', 'Create transports before sending media.');
    if (KIND_OF[request.source] !== request.kind) {
      throw new RoomError('invalid', `A ${request.source} stream must be ${KIND_OF[request.source]}.`);
    }
    if (participant.producerFor(request.source)) {
      throw new RoomError('invalid', `You already send a ${request.source} stream.`);
    }
    const producer = await transport.produce({
      kind: request.kind,
      rtpParameters: request.rtpParameters,
      paused: request.paused ?? false,
      appData: { participantId: participant.id, source: request.source },
    });
    if (participant.closed) {
      producer.close();
      throw new RoomError('left', 'You left the meeting.');
    }
    const entry: ProducerEntry = {
      producer,
      source: request.source,
      participant,
      router: participant.router,
      height: request.height,
    };
    participant.producers.set(producer.id, entry);
    const worker = participant.router.worker;
    worker.producers++;
    producer.observer.once('close', () => {
      worker.producers--;
      participant.producers.delete(producer.id);
    });
    if (producer.kind === 'audio') await this.#observeSpeaker(entry);
    for (const other of this.#participants.values()) {
      if (other !== participant && other.receiving) void this.#consume(other, entry);
    }
    return producer.id;
  }

  ownProducer(participant: Participant, producerId: string): ProducerEntry {
    const entry = participant.producers.get(producerId);
    if (!entry) throw new RoomError('not-yours', 'No such stream in your session.');
    return entry;
  }

  async setProducerPaused(participant: Participant, producerId: string, paused: boolean): Promise<void> {
    const { producer } = this.ownProducer(participant, producerId);
    if (paused) await producer.pause();
    else await producer.resume();
    for (const other of this.#participants.values()) {
      if (other !== participant) other.notify('producerState', { participantId: participant.id, producerId, paused });
    }
  }

  ownConsumer(participant: Participant, consumerId: string): ConsumerEntry {
    const entry = participant.consumers.get(consumerId);
    if (!entry) throw new RoomError('not-yours', 'No such stream in your session.');
    return entry;
  }

  async resumeConsumer(participant: Participant, consumerId: string): Promise<void> {
    const entry = this.ownConsumer(participant, consumerId);
    entry.clientReady = true;
    if (entry.visible) await entry.consumer.resume();
  }

  async setConsumerView(
    participant: Participant,
    consumerId: string,
    view: { width: number; height: number; visible: boolean },
  ): Promise<void> {
    const entry = this.ownConsumer(participant, consumerId);
    const { consumer } = entry;
    if (consumer.kind !== 'video') return;
    entry.visible = view.visible;
    if (!view.visible) {
      if (!consumer.paused) await consumer.pause();
      return;
    }
    if (consumer.type === 'simulcast' || consumer.type === 'svc') {
      const layers = entry.from.producer.rtpParameters.encodings?.length ?? 1;
      const spatialLayer = chooseSpatialLayer(layers, entry.from.height, view.height);
      await consumer.setPreferredLayers({ spatialLayer, temporalLayer: 2 });
    }
    if (entry.clientReady && consumer.paused) await consumer.resume();
  }

  setHandRaised(participant: Participant, raised: boolean): void {
    participant.handRaised = raised;
    for (const other of this.#participants.values()) other.notify('handRaised', { participantId: participant.id, raised });
  }

  /** Ends the room on this node; participants are told to rejoin (through the gateway) or leave. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#participants.values()) {
      p.notify('rejoin', { reason });
      p.close();
    }
    this.#participants.clear();
    for (const { router } of this.#routers.values()) router.close();
    this.emit('closed', reason);
  }

  #assertOpen(): void {
    if (this.#closed) throw new RoomError('hosted-elsewhere', 'This meeting moved; join again.');
  }

  /** The primary router while its worker has room; else (a big meeting) a router on the least-loaded other worker. */
  async #routerForNewParticipant(): Promise<RoomRouter> {
    const primary = this.#primary;
    if (primary.worker.consumers < this.#options.consumersPerWorker || this.#options.pool.workers.length < 2) {
      return primary;
    }
    const worker = this.#options.pool.leastLoaded(primary.worker);
    if (worker.consumers >= primary.worker.consumers) return primary;
    let roomRouter = this.#routers.get(worker);
    if (!roomRouter) {
      const router = await worker.worker.createRouter({ mediaCodecs: conferenceMediaCodecs });
      roomRouter = { worker, router };
      this.#routers.set(worker, roomRouter);
      this.#options.logger.info({ room: this.name, worker: worker.index }, 'room grows onto another worker');
    }
    return roomRouter;
  }

  /** Makes a producer available on another of the room's routers (once). */
  async #pipe(entry: ProducerEntry, target: RoomRouter): Promise<void> {
    if (entry.router === target) return;
    const key = `${entry.producer.id}/${target.router.id}`;
    let piping = this.#piped.get(key);
    if (!piping) {
      piping = entry.router.router
        .pipeToRouter({ producerId: entry.producer.id, router: target.router })
        .then(({ pipeProducer }) => {
          pipeProducer?.observer.once('close', () => this.#piped.delete(key));
        });
      this.#piped.set(key, piping);
    }
    await piping;
  }

  async #observeSpeaker(entry: ProducerEntry): Promise<void> {
    try {
      await this.#pipe(entry, this.#primary);
      await this.#speakerObserver.addProducer({ producerId: entry.producer.id });
    } catch (err) {
      this.#options.logger.warn({ room: this.name, err: (err as Error).message }, 'cannot observe speaker');
    }
  }

  async #consume(receiver: Participant, from: ProducerEntry): Promise<void> {
    try {
      const transport = receiver.recvTransport;
      const rtpCapabilities = receiver.rtpCapabilities;
      if (!transport || !rtpCapabilities || from.producer.closed) return;
      await this.#pipe(from, receiver.router);
      const { router, worker } = receiver.router;
      if (!router.canConsume({ producerId: from.producer.id, rtpCapabilities })) return;
      const consumer = await transport.consume({
        producerId: from.producer.id,
        rtpCapabilities,
        paused: true,
        // Start small; the client's view report picks the layer that fits.
        preferredLayers: { spatialLayer: 0 },
        appData: { participantId: receiver.id },
      });
      if (receiver.closed) {
        consumer.close();
        return;
      }
      const entry: ConsumerEntry = { consumer, source: from.source, from, clientReady: false, visible: true };
      receiver.consumers.set(consumer.id, entry);
      worker.consumers++;
      consumer.observer.once('close', () => {
        worker.consumers--;
        receiver.consumers.delete(consumer.id);
      });
      const notifyClosed = () => receiver.notify('consumerClosed', { consumerId: consumer.id });
      consumer.on('producerclose', notifyClosed);
      consumer.on('layerschange', (layers) =>
        receiver.notify('consumerLayers', {
          consumerId: consumer.id,
          spatialLayer: layers?.spatialLayer ?? null,
          temporalLayer: layers?.temporalLayer ?? null,
        }),
      );
      await consumer.setPriority(this.#priorityOf(from));
      receiver.notify('newConsumer', {
        consumerId: consumer.id,
        producerId: from.producer.id,
        participantId: from.participant.id,
        kind: consumer.kind,
        source: from.source,
        // The same JSON on the wire; mediasoup and mediasoup-client list different header-extension URIs.
        rtpParameters: consumer.rtpParameters as unknown as NewConsumer['rtpParameters'],
        producerPaused: consumer.producerPaused,
      });
    } catch (err) {
      if (!receiver.closed && !from.producer.closed) {
        this.#options.logger.warn({ room: this.name, err: (err as Error).message }, 'cannot create consumer');
      }
    }
  }

  #priorityOf(from: ProducerEntry): number {
    if (from.source === 'camera' && from.participant.id === this.#activeSpeakerId) return PRIORITY.speaker;
    return PRIORITY[from.source];
  }

  #setActiveSpeaker(id: string | null): void {
    if (id === this.#activeSpeakerId) return;
    const previous = this.#activeSpeakerId;
    this.#activeSpeakerId = id;
    for (const p of this.#participants.values()) {
      p.notify('activeSpeaker', { participantId: id });
      // The speaker's camera gets bandwidth before the other cameras.
      for (const entry of p.consumers.values()) {
        const owner = entry.from.participant.id;
        if (entry.source === 'camera' && (owner === id || owner === previous)) {
          entry.consumer.setPriority(this.#priorityOf(entry.from)).catch(() => {});
        }
      }
    }
  }
}
