/** One person's session in a room: their transports, what they send and what they receive. */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type {
  MediaSource,
  ParticipantInfo,
  ParticipantRole,
  SfuNotificationName,
  SfuNotifications,
} from '../../../contracts/sfu/signalling.js';
import type { MediaWorker } from '../media/workerPool.js';

/** A room's router on one worker. A room starts with one and grows onto others when its worker is busy. */
export interface RoomRouter {
  worker: MediaWorker;
  router: types.Router;
}

export interface ProducerEntry {
  producer: types.Producer;
  source: MediaSource;
  participant: Participant;
  router: RoomRouter;
  /** Track height the sender reported, for layer selection. */
  height: number | undefined;
}

export interface ConsumerEntry {
  consumer: types.Consumer;
  source: MediaSource;
  from: ProducerEntry;
  /** The client has set up its side; until then the consumer stays paused. */
  clientReady: boolean;
  /** The client shows the video (not scrolled away or minimised). */
  visible: boolean;
}

export type Notify = <N extends SfuNotificationName>(name: N, data: SfuNotifications[N]) => void;

export interface ParticipantOptions {
  id: string;
  userId: string;
  displayName: string;
  role: ParticipantRole;
  router: RoomRouter;
  notify: Notify;
}

export class Participant {
  readonly id: string;
  readonly userId: string;
  readonly displayName: string;
  readonly role: ParticipantRole;
  /** The router this participant's transports live on. */
  readonly router: RoomRouter;
  readonly notify: Notify;
  handRaised = false;
  /** Given only to this participant's client: lets it replace this session when it rejoins. */
  readonly resumeKey = crypto.randomBytes(18).toString('base64url');
  rtpCapabilities: types.RtpCapabilities | undefined;
  /** WebRTC for browsers; plain RTP when the benchmark drives a room (see MediaTransportFactory). */
  sendTransport: types.Transport | undefined;
  recvTransport: types.Transport | undefined;
  readonly producers = new Map<string, ProducerEntry>();
  readonly consumers = new Map<string, ConsumerEntry>();
  #closed = false;

  constructor(options: ParticipantOptions) {
    this.id = options.id;
    this.userId = options.userId;
    this.displayName = options.displayName;
    this.role = options.role;
    this.router = options.router;
    this.notify = options.notify;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Can receive streams: has a receive transport and told us its codecs. */
  get receiving(): boolean {
    return !this.#closed && this.recvTransport !== undefined && this.rtpCapabilities !== undefined;
  }

  info(): ParticipantInfo {
    return {
      id: this.id,
      userId: this.userId,
      displayName: this.displayName,
      role: this.role,
      handRaised: this.handRaised,
      producers: [...this.producers.values()].map((p) => ({
        id: p.producer.id,
        kind: p.producer.kind,
        source: p.source,
        paused: p.producer.paused,
      })),
    };
  }

  matchesResumeKey(key: string): boolean {
    const a = Buffer.from(key);
    const b = Buffer.from(this.resumeKey);
    return a.length === b.length && crypto.timingSafeEqual(a, b);
  }

  producerFor(source: MediaSource): ProducerEntry | undefined {
    for (const entry of this.producers.values()) if (entry.source === source) return entry;
    return undefined;
  }

  /** Closing the transports closes every producer and consumer on them. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sendTransport?.close();
    this.recvTransport?.close();
  }
}
