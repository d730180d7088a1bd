/**
 * A conference from the browser's side: asks the gateway which SFU node hosts the meeting,
 * joins it over /sfu, sends the microphone, camera (simulcast) and screen with
 * mediasoup-client, receives everyone else, and rejoins by itself when the network or the
 * node drops — through the gateway again, so a meeting whose node died lands on a live one.
 */
import { Device, type types } from 'mediasoup-client';
import { api, ApiError, type ConferenceJoin, type GuestAccess } from '../api/apiClient';
import { loadDevicePreferences } from '../media/devices';
import { Emitter } from '../util/emitter';
import type { MediaKind, MediaSource, ParticipantInfo, ParticipantRole, SfuNotifications } from '../../../contracts/sfu/signalling';
import { SfuConnection, SfuRequestError } from './sfuConnection';

export interface RemoteStream {
  consumerId: string;
  producerId: string;
  kind: MediaKind;
  source: MediaSource;
  track: MediaStreamTrack;
  /** The sender muted it (or turned the camera off). */
  paused: boolean;
}

export interface MeetingParticipant {
  id: string;
  displayName: string;
  role: ParticipantRole;
  handRaised: boolean;
  streams: Partial<Record<MediaSource, RemoteStream>>;
  /** Sources the participant sends but has paused (muted), known before their streams arrive. */
  pausedSources: MediaSource[];
  joinedAt: number;
}

export type MeetingPhase = 'idle' | 'joining' | 'joined' | 'reconnecting' | 'left' | 'failed';

export interface LocalSource {
  on: boolean;
  track?: MediaStreamTrack;
  /** Why it cannot be turned on (no device, permission refused). */
  unavailable?: string;
}

export interface MeetingState {
  phase: MeetingPhase;
  /** Why the meeting failed, or what the client is waiting for. */
  message?: string;
  conference?: { name: string; title: string };
  me?: { id: string; displayName: string; role: ParticipantRole; handRaised: boolean };
  participants: MeetingParticipant[];
  activeSpeakerId: string | null;
  mic: LocalSource;
  camera: LocalSource;
  screen: LocalSource;
  reconnectAttempt: number;
}

export interface JoinOptions {
  name: string;
  /** For people without an account. */
  access?: GuestAccess;
  displayName?: string;
  micOn: boolean;
  cameraOn: boolean;
  /** Tracks opened for the pre-join preview, reused so the camera does not blink. */
  micTrack?: MediaStreamTrack;
  cameraTrack?: MediaStreamTrack;
}

export type MeetingEvents = { state: [MeetingState] };

/** Camera simulcast: three layers, lowest first (what the SFU's layer selection expects). */
const CAMERA_ENCODINGS: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];
const SCREEN_ENCODINGS: RTCRtpEncodingParameters[] = [{ maxBitrate: 1_500_000 }];
/** Delays between rejoin attempts; the last repeats. */
const BACKOFF_MS = [0, 500, 1000, 2000, 3000, 5000];
/** Give up rejoining after this long and say so. */
const GIVE_UP_MS = 5 * 60_000;

export class MeetingClient extends Emitter<MeetingEvents> {
  #state: MeetingState = {
    phase: 'idle',
    participants: [],
    activeSpeakerId: null,
    mic: { on: false },
    camera: { on: false },
    screen: { on: false },
    reconnectAttempt: 0,
  };
  #options: JoinOptions | undefined;
  #connection: SfuConnection | undefined;
  #device: Device | undefined;
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  readonly #producers = new Map<MediaSource, types.Producer>();
  readonly #consumers = new Map<string, types.Consumer>();
  #resume: { participantId: string; key: string } | undefined;
  #generation = 0;
  #reconnecting = false;
  readonly #views = new Map<string, { width: number; height: number; visible: boolean; timer?: number }>();

  get state(): MeetingState {
    return this.#state;
  }

  async join(options: JoinOptions): Promise<void> {
    this.#options = options;
    this.#update({ phase: 'joining', message: undefined });
    // Devices the pre-join screen had not opened yet are opened now.
    const mic: LocalSource = { on: options.micOn, track: options.micTrack };
    if (!mic.track && options.micOn) {
      mic.track = await openTrack('audio').catch((err: unknown) => {
        mic.unavailable = mediaError(err, 'microphone');
        return undefined;
      });
    }
    const camera: LocalSource = { on: options.cameraOn, track: options.cameraTrack };
    if (!camera.track && options.cameraOn) {
      camera.track = await openTrack('video').catch((err: unknown) => {
        camera.unavailable = mediaError(err, 'camera');
        return undefined;
      });
    }
    mic.on = mic.on && Boolean(mic.track);
    camera.on = camera.on && Boolean(camera.track);
    if (mic.track) mic.track.enabled = mic.on;
    this.#update({ mic, camera });
    window.addEventListener('online', this.#onOnline);
    await this.#connectLoop('joining');
  }

  async leave(): Promise<void> {
    this.#generation++;
    window.removeEventListener('online', this.#onOnline);
    const connection = this.#connection;
    if (connection?.open) await connection.request('leave', {}).catch(() => undefined);
    this.#teardown();
    for (const source of ['mic', 'camera', 'screen'] as const) this.#state[source].track?.stop();
    this.#update({
      phase: 'left',
      participants: [],
      mic: { on: false },
      camera: { on: false },
      screen: { on: false },
      activeSpeakerId: null,
    });
  }

  async setMic(on: boolean): Promise<void> {
    let track = this.#state.mic.track;
    if (on && (!track || track.readyState === 'ended')) {
      try {
        track = await openTrack('audio');
      } catch (err) {
        this.#update({ mic: { on: false, unavailable: mediaError(err, 'microphone') } });
        return;
      }
    }
    if (track) track.enabled = on;
    this.#update({ mic: { on, track } });
    const producer = this.#producers.get('mic');
    if (producer && producer.track !== track && track) await producer.replaceTrack({ track });
    if (!producer && on && track) await this.#produce('mic', track);
    else if (producer) {
      if (on) producer.resume();
      else producer.pause();
      await this.#connection?.request(on ? 'resumeProducer' : 'pauseProducer', { producerId: producer.id }).catch(() => undefined);
    }
  }

  /** Camera off stops the track (the camera light goes out) and closes its stream. */
  async setCamera(on: boolean): Promise<void> {
    if (!on) {
      this.#state.camera.track?.stop();
      this.#update({ camera: { on: false } });
      await this.#closeProducer('camera');
      return;
    }
    let track: MediaStreamTrack;
    try {
      track = await openTrack('video');
    } catch (err) {
      this.#update({ camera: { on: false, unavailable: mediaError(err, 'camera') } });
      return;
    }
    this.#update({ camera: { on: true, track } });
    await this.#produce('camera', track);
  }

  async setScreenShare(on: boolean): Promise<void> {
    if (!on) {
      this.#state.screen.track?.stop();
      this.#update({ screen: { on: false } });
      await this.#closeProducer('screen');
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    } catch (err) {
      if ((err as DOMException).name !== 'NotAllowedError') {
        this.#update({ screen: { on: false, unavailable: mediaError(err, 'screen sharing') } });
      }
      return;
    }
    const track = stream.getVideoTracks()[0];
    // The browser's own "Stop sharing" button ends the track.
    track.addEventListener('ended', () => {
      if (this.#state.screen.track === track) void this.setScreenShare(false);
    });
    this.#update({ screen: { on: true, track } });
    await this.#produce('screen', track);
  }

  async raiseHand(raised: boolean): Promise<void> {
    if (!this.#state.me) return;
    this.#update({ me: { ...this.#state.me, handRaised: raised } });
    await this.#connection?.request('raiseHand', { raised }).catch(() => undefined);
  }

  /**
   * Where a remote video is shown (CSS pixels); the SFU then sends the simulcast layer that
   * fits. Reports are coalesced so resizing a window sends one request.
   */
  setView(consumerId: string, width: number, height: number, visible: boolean): void {
    const ratio = window.devicePixelRatio || 1;
    const next = { width: Math.round(width * ratio), height: Math.round(height * ratio), visible };
    const previous = this.#views.get(consumerId);
    if (previous && previous.width === next.width && previous.height === next.height && previous.visible === visible) return;
    window.clearTimeout(previous?.timer);
    const timer = window.setTimeout(() => {
      this.#connection?.request('setConsumerView', { consumerId, ...next }).catch(() => undefined);
    }, 250);
    this.#views.set(consumerId, { ...next, timer });
  }

  /**
   * Receive statistics per remote stream (bytes and decoded frames), for the connection
   * quality display and for tests that check media really flows.
   */
  async receiveStats(): Promise<{ participantId: string; source: MediaSource; kind: MediaKind; bytesReceived: number; framesDecoded: number }[]> {
    const rows = [];
    for (const p of this.#state.participants) {
      for (const stream of Object.values(p.streams)) {
        const consumer = stream && this.#consumers.get(stream.consumerId);
        if (!stream || !consumer) continue;
        let bytesReceived = 0;
        let framesDecoded = 0;
        (await consumer.getStats()).forEach((r: { type: string; bytesReceived?: number; framesDecoded?: number }) => {
          if (r.type !== 'inbound-rtp') return;
          bytesReceived += r.bytesReceived ?? 0;
          framesDecoded += r.framesDecoded ?? 0;
        });
        rows.push({ participantId: p.id, source: stream.source, kind: stream.kind, bytesReceived, framesDecoded });
      }
    }
    return rows;
  }

  // ---- connecting and rejoining ----

  #onOnline = () => {
    if (this.#state.phase === 'reconnecting') void this.#reconnect('Back online');
  };

  async #connectLoop(phase: 'joining' | 'reconnecting'): Promise<void> {
    const generation = ++this.#generation;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (generation !== this.#generation) return;
      await sleep(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]);
      if (generation !== this.#generation) return;
      this.#update({ reconnectAttempt: attempt });
      try {
        await this.#connectOnce(generation);
        this.#update({ phase: 'joined', message: undefined, reconnectAttempt: 0 });
        return;
      } catch (err) {
        if (generation !== this.#generation) return;
        this.#teardown();
        const fatal = fatalMessage(err);
        if (fatal) {
          this.#update({ phase: 'failed', message: fatal });
          return;
        }
        if (Date.now() - started > GIVE_UP_MS) {
          this.#update({ phase: 'failed', message: 'Could not reconnect to the meeting. Check your connection and join again.' });
          return;
        }
        this.#update({ phase, message: (err as Error).message });
      }
    }
  }

  async #connectOnce(generation: number): Promise<void> {
    const options = this.#options!;
    const answer: ConferenceJoin = await api.joinConference(options.name, {
      ...options.access,
      displayName: options.displayName,
    });
    const url = answer.sfuUrl || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sfu`;
    const connection = await SfuConnection.open(
      url,
      (name, data) => {
        if (generation === this.#generation) this.#onNotification(name, data);
      },
      (_code, byUs) => {
        if (!byUs && generation === this.#generation && this.#connection === connection) void this.#reconnect('Connection to the meeting lost');
      },
    );
    this.#connection = connection;
    const joined = await connection.request('join', { token: answer.token, ...(this.#resume ? { resume: this.#resume } : {}) });
    this.#resume = { participantId: joined.you.id, key: joined.resumeKey };
    // Take the room as it is before awaiting anything else: notifications (someone joining) may
    // arrive during the next await and must add to this list, not be overwritten by it.
    this.#update({
      conference: answer.conference,
      me: { id: joined.you.id, displayName: joined.you.displayName, role: joined.you.role, handRaised: this.#state.me?.handRaised ?? false },
      participants: joined.participants.map(toParticipant),
      activeSpeakerId: joined.activeSpeakerId,
    });
    const device = new Device();
    await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
    this.#device = device;
    if (this.#state.me?.handRaised) await connection.request('raiseHand', { raised: true });

    const { send, recv } = await connection.request('createTransports', { rtpCapabilities: device.rtpCapabilities });
    const iceServers = answer.iceServers;
    this.#sendTransport = device.createSendTransport({ ...send, iceServers });
    this.#recvTransport = device.createRecvTransport({ ...recv, iceServers });
    for (const transport of [this.#sendTransport, this.#recvTransport]) {
      transport.on('connect', ({ dtlsParameters }, ok, fail) => {
        connection.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => ok(), fail);
      });
      transport.on('connectionstatechange', (state) => {
        if (state === 'failed' && generation === this.#generation) void this.#reconnect('Media connection lost');
      });
    }
    this.#sendTransport.on('produce', ({ kind, rtpParameters, appData }, ok, fail) => {
      const source = appData.source as MediaSource;
      const track = this.#state[source].track;
      connection
        .request('produce', { kind, rtpParameters, source, paused: source === 'mic' && !this.#state.mic.on, height: track?.getSettings().height })
        .then(({ producerId }) => ok({ id: producerId }), fail);
    });

    // Send what is on (the microphone even when muted, so unmuting is instant).
    const { mic, camera, screen } = this.#state;
    if (mic.track && mic.track.readyState === 'live') await this.#produce('mic', mic.track);
    if (camera.on && camera.track?.readyState === 'live') await this.#produce('camera', camera.track);
    if (screen.on && screen.track?.readyState === 'live') await this.#produce('screen', screen.track);
  }

  async #reconnect(reason: string): Promise<void> {
    if (this.#reconnecting || this.#state.phase === 'left' || this.#state.phase === 'failed') return;
    this.#reconnecting = true;
    try {
      this.#teardown();
      this.#update({ phase: 'reconnecting', message: reason, participants: [], activeSpeakerId: null });
      await this.#connectLoop('reconnecting');
    } finally {
      this.#reconnecting = false;
    }
  }

  /** Drops the connection and transports; local tracks stay open for the rejoin. */
  #teardown(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.close();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
    this.#producers.clear();
    for (const consumer of this.#consumers.values()) consumer.close();
    this.#consumers.clear();
    for (const view of this.#views.values()) window.clearTimeout(view.timer);
    this.#views.clear();
    this.#device = undefined;
  }

  // ---- sending ----

  async #produce(source: MediaSource, track: MediaStreamTrack): Promise<void> {
    const transport = this.#sendTransport;
    if (!transport || !this.#device || this.#producers.has(source)) return;
    if (!this.#device.canProduce(track.kind as MediaKind)) return;
    try {
      const producer = await transport.produce({
        track,
        encodings: source === 'camera' ? CAMERA_ENCODINGS : source === 'screen' ? SCREEN_ENCODINGS : undefined,
        codecOptions: source === 'mic' ? { opusDtx: true, opusFec: true } : { videoGoogleStartBitrate: 1000 },
        appData: { source },
        stopTracks: false,
      });
      if (this.#sendTransport !== transport) {
        producer.close();
        return;
      }
      this.#producers.set(source, producer);
      if (source === 'mic' && !this.#state.mic.on) producer.pause();
    } catch (err) {
      if (this.#sendTransport === transport) this.#update({ message: `Could not send your ${source}: ${(err as Error).message}` });
    }
  }

  async #closeProducer(source: MediaSource): Promise<void> {
    const producer = this.#producers.get(source);
    if (!producer) return;
    this.#producers.delete(source);
    producer.close();
    await this.#connection?.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
  }

  // ---- receiving ----

  #onNotification<N extends keyof SfuNotifications>(name: N, data: SfuNotifications[N]): void {
    switch (name) {
      case 'participantJoined': {
        const info = data as SfuNotifications['participantJoined'];
        this.#update({ participants: [...this.#state.participants.filter((p) => p.id !== info.id), toParticipant(info)] });
        break;
      }
      case 'participantLeft': {
        const { participantId } = data as SfuNotifications['participantLeft'];
        this.#update({
          participants: this.#state.participants.filter((p) => p.id !== participantId),
          activeSpeakerId: this.#state.activeSpeakerId === participantId ? null : this.#state.activeSpeakerId,
        });
        break;
      }
      case 'newConsumer':
        void this.#consume(data as SfuNotifications['newConsumer']);
        break;
      case 'consumerClosed': {
        const { consumerId } = data as SfuNotifications['consumerClosed'];
        this.#consumers.get(consumerId)?.close();
        this.#consumers.delete(consumerId);
        this.#views.delete(consumerId);
        this.#updateParticipants((p) => {
          const streams = { ...p.streams };
          for (const source of Object.keys(streams) as MediaSource[]) if (streams[source]?.consumerId === consumerId) delete streams[source];
          return { ...p, streams };
        });
        break;
      }
      case 'producerState': {
        const { participantId, producerId, paused } = data as SfuNotifications['producerState'];
        this.#updateParticipants((p) => {
          if (p.id !== participantId) return p;
          const streams = { ...p.streams };
          for (const source of Object.keys(streams) as MediaSource[]) {
            const s = streams[source];
            if (s?.producerId === producerId) streams[source] = { ...s, paused };
          }
          return { ...p, streams };
        });
        break;
      }
      case 'activeSpeaker':
        this.#update({ activeSpeakerId: (data as SfuNotifications['activeSpeaker']).participantId });
        break;
      case 'handRaised': {
        const { participantId, raised } = data as SfuNotifications['handRaised'];
        this.#updateParticipants((p) => (p.id === participantId ? { ...p, handRaised: raised } : p));
        break;
      }
      case 'rejoin':
        void this.#reconnect((data as SfuNotifications['rejoin']).reason);
        break;
      default:
        break;
    }
  }

  async #consume(offer: SfuNotifications['newConsumer']): Promise<void> {
    const transport = this.#recvTransport;
    const connection = this.#connection;
    if (!transport || !connection) return;
    try {
      const consumer = await transport.consume({
        id: offer.consumerId,
        producerId: offer.producerId,
        kind: offer.kind,
        rtpParameters: offer.rtpParameters,
        streamId: `${offer.participantId}-${offer.source}`,
      });
      if (this.#recvTransport !== transport) {
        consumer.close();
        return;
      }
      this.#consumers.set(consumer.id, consumer);
      const stream: RemoteStream = {
        consumerId: consumer.id,
        producerId: offer.producerId,
        kind: offer.kind,
        source: offer.source,
        track: consumer.track,
        paused: offer.producerPaused,
      };
      this.#updateParticipants((p) => (p.id === offer.participantId ? { ...p, streams: { ...p.streams, [offer.source]: stream } } : p));
      await connection.request('resumeConsumer', { consumerId: consumer.id });
    } catch (err) {
      if (this.#recvTransport === transport) console.warn('could not receive a stream', err);
    }
  }

  #updateParticipants(fn: (p: MeetingParticipant) => MeetingParticipant): void {
    this.#update({ participants: this.#state.participants.map(fn) });
  }

  #update(patch: Partial<MeetingState>): void {
    this.#state = { ...this.#state, ...patch };
    this.emit('state', this.#state);
  }
}

function toParticipant(info: ParticipantInfo): MeetingParticipant {
  return {
    id: info.id,
    displayName: info.displayName,
    role: info.role,
    handRaised: info.handRaised,
    streams: {},
    pausedSources: info.producers.filter((p) => p.paused).map((p) => p.source),
    joinedAt: Date.now(),
  };
}

async function openTrack(kind: 'audio' | 'video'): Promise<MediaStreamTrack> {
  const prefs = loadDevicePreferences();
  const constraints: MediaStreamConstraints =
    kind === 'audio'
      ? { audio: prefs.microphoneId ? { deviceId: { ideal: prefs.microphoneId } } : true }
      : {
          video: {
            width: { ideal: 1280 },
            height: { ideal: 720 },
            frameRate: { ideal: 30 },
            ...(prefs.cameraId ? { deviceId: { ideal: prefs.cameraId } } : {}),
          },
        };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  return kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
}

/** What to tell a person when a device cannot be opened. */
export function mediaError(err: unknown, what: string): string {
  const name = (err as DOMException)?.name;
  if (name === 'NotAllowedError') return `Parley is not allowed to use your ${what}. Allow it in the browser’s site settings.`;
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `No ${what} found.`;
  if (name === 'NotReadableError') return `Your ${what} is in use by another application.`;
  return `Your ${what} could not be started.`;
}

/** Errors that retrying will not fix (not allowed in, the meeting does not exist). */
function fatalMessage(err: unknown): string | undefined {
  if (err instanceof ApiError && [400, 401, 403, 404].includes(err.status)) return err.message;
  if (err instanceof SfuRequestError && (err.code === 'unauthorized' || err.code === 'conference-full')) return err.message;
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => window.setTimeout(r, ms)) : Promise.resolve();
}
