/**
 * The conference signalling protocol on WebSocket /sfu: JSON requests with responses, and
 * notifications from the server. Shared by the SFU and the web client (type-only).
 *
 *   client → server  { "id": 7, "method": "produce", "data": { … } }
 *   server → client  { "id": 7, "ok": true, "data": { … } }  or  { "id": 7, "ok": false, "error": { "code", "message" } }
 *   server → client  { "notification": "newConsumer", "data": { … } }
 *
 * The first request must be `join` with a join token from the gateway
 * (POST /api/conferences/:name/join). Media parameter shapes are mediasoup's.
 */
import type { types as ms } from 'mediasoup-client';

export type ParticipantRole = 'owner' | 'member' | 'guest';
export type MediaSource = 'mic' | 'camera' | 'screen';
export type MediaKind = 'audio' | 'video';

export interface ProducerInfo {
  id: string;
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
}

export interface ParticipantInfo {
  id: string;
  userId: string;
  displayName: string;
  role: ParticipantRole;
  handRaised: boolean;
  producers: ProducerInfo[];
}

export interface TransportInfo {
  id: string;
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

export type Empty = Record<string, never>;

/** Each method's request data and response data. */
export interface SfuRequests {
  /** `resume`: this client's previous, broken session (a rejoin), which the server then drops. */
  join: [
    { token: string; resume?: { participantId: string; key: string } },
    {
      you: ParticipantInfo;
      /** Proves a later rejoin comes from this client. */
      resumeKey: string;
      conference: string;
      routerRtpCapabilities: ms.RtpCapabilities;
      participants: ParticipantInfo[];
      activeSpeakerId: string | null;
    },
  ];
  /** Creates the send and receive transports; the server then offers every existing stream (newConsumer). */
  createTransports: [{ rtpCapabilities: ms.RtpCapabilities }, { send: TransportInfo; recv: TransportInfo }];
  connectTransport: [{ transportId: string; dtlsParameters: ms.DtlsParameters }, Empty];
  restartIce: [{ transportId: string }, { iceParameters: ms.IceParameters }];
  /** `height`: the track's height in pixels, to size simulcast layers for receivers. */
  produce: [
    { kind: MediaKind; rtpParameters: ms.RtpParameters; source: MediaSource; paused?: boolean; height?: number },
    { producerId: string },
  ];
  closeProducer: [{ producerId: string }, Empty];
  pauseProducer: [{ producerId: string }, Empty];
  resumeProducer: [{ producerId: string }, Empty];
  /** The client created its side of a consumer: start sending. */
  resumeConsumer: [{ consumerId: string }, Empty];
  /** Where the client shows a consumer's video (device pixels), so the server sends the layer that fits. */
  setConsumerView: [{ consumerId: string; width: number; height: number; visible: boolean }, Empty];
  raiseHand: [{ raised: boolean }, Empty];
  leave: [Empty, Empty];
}

export type SfuMethod = keyof SfuRequests;

export interface SfuNotifications {
  participantJoined: ParticipantInfo;
  participantLeft: { participantId: string };
  newConsumer: {
    consumerId: string;
    producerId: string;
    participantId: string;
    kind: MediaKind;
    source: MediaSource;
    rtpParameters: ms.RtpParameters;
    producerPaused: boolean;
  };
  consumerClosed: { consumerId: string };
  /** The sender muted or unmuted (paused or resumed its producer). */
  producerState: { participantId: string; producerId: string; paused: boolean };
  consumerLayers: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  activeSpeaker: { participantId: string | null };
  handRaised: { participantId: string; raised: boolean };
  /** This node no longer hosts the conference (worker died, conference moved): join again through the gateway. */
  rejoin: { reason: string };
}

export type SfuNotificationName = keyof SfuNotifications;

export type SfuErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'not-joined'
  | 'not-found'
  | 'conference-full'
  | 'node-full'
  | 'wrong-node'
  | 'rate-limited'
  | 'internal';

export interface SfuRequestMessage<M extends SfuMethod = SfuMethod> {
  id: number;
  method: M;
  data: SfuRequests[M][0];
}

export type SfuResponseMessage<M extends SfuMethod = SfuMethod> =
  | { id: number; ok: true; data: SfuRequests[M][1] }
  | { id: number; ok: false; error: { code: SfuErrorCode; message: string } };

export interface SfuNotificationMessage<N extends SfuNotificationName = SfuNotificationName> {
  notification: N;
  data: SfuNotifications[N];
}
