/**
 * The conference signalling protocol on WebSocket /sfu, between a meeting participant (the web
 * client, a test client) and an SFU node: JSON requests with responses, and notifications.
 *
 *   client → node  { "id": 7, "method": "produce", "data": { … } }
 *   node → client  { "id": 7, "ok": true, "data": { … } }  or  { "id": 7, "ok": false, "error": { "code", "message" } }
 *   node → client  { "notification": "newConsumer", "data": { … } }
 *
 * The first request must be `join` with a join token from the gateway
 * (POST /api/conferences/:name/join). Media parameter shapes are mediasoup's; the node checks
 * them in depth (mediasoup does), so here they only have to be objects.
 *
 * The node validates every request with these schemas; the client uses the inferred types.
 */
import type { types as ms } from 'mediasoup-client';
import { z } from 'zod';

/** An object whose inner shape mediasoup defines and checks. */
const mediaObject = <T>() =>
  z.custom<T>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object');

const id = z.string().min(1).max(100);
export const participantRole = z.enum(['owner', 'member', 'guest']);
export const mediaSource = z.enum(['mic', 'camera', 'screen']);
export const mediaKind = z.enum(['audio', 'video']);
export type ParticipantRole = z.infer<typeof participantRole>;
export type MediaSource = z.infer<typeof mediaSource>;
export type MediaKind = z.infer<typeof mediaKind>;

export const producerInfo = z.object({ id, kind: mediaKind, source: mediaSource, paused: z.boolean() });
export type ProducerInfo = z.infer<typeof producerInfo>;

export const participantInfo = z.object({
  id,
  userId: z.string(),
  displayName: z.string(),
  role: participantRole,
  handRaised: z.boolean(),
  producers: z.array(producerInfo),
});
export type ParticipantInfo = z.infer<typeof participantInfo>;

export const transportInfo = z.object({
  id,
  iceParameters: mediaObject<ms.IceParameters>(),
  iceCandidates: z.array(mediaObject<ms.IceCandidate>()),
  dtlsParameters: mediaObject<ms.DtlsParameters>(),
});
export type TransportInfo = z.infer<typeof transportInfo>;

const empty = z.object({});

/** What each method's request carries. */
export const sfuRequestSchemas = {
  /** `resume`: this client's previous, broken session (a rejoin), which the node then drops. */
  join: z.object({
    token: z.string().min(1).max(4096),
    resume: z.object({ participantId: id, key: z.string().min(1).max(100) }).optional(),
  }),
  /** Creates the send and receive transports; the node then offers every existing stream (newConsumer). */
  createTransports: z.object({ rtpCapabilities: mediaObject<ms.RtpCapabilities>() }),
  connectTransport: z.object({ transportId: id, dtlsParameters: mediaObject<ms.DtlsParameters>() }),
  restartIce: z.object({ transportId: id }),
  /** `height`: the track's height in pixels, to size simulcast layers for receivers. */
  produce: z.object({
    kind: mediaKind,
    rtpParameters: mediaObject<ms.RtpParameters>(),
    source: mediaSource,
    paused: z.boolean().optional(),
    height: z.number().int().min(0).max(10_000).optional(),
  }),
  closeProducer: z.object({ producerId: id }),
  pauseProducer: z.object({ producerId: id }),
  resumeProducer: z.object({ producerId: id }),
  /** The client created its side of a consumer: start sending. */
  resumeConsumer: z.object({ consumerId: id }),
  /** Where the client shows a consumer's video (device pixels), so the node sends the layer that fits. */
  setConsumerView: z.object({
    consumerId: id,
    width: z.number().min(0).max(100_000),
    height: z.number().min(0).max(100_000),
    visible: z.boolean(),
  }),
  raiseHand: z.object({ raised: z.boolean() }),
  leave: empty,
};

/** What each method's successful response carries. */
export const sfuResponseSchemas = {
  join: z.object({
    you: participantInfo,
    /** Proves a later rejoin comes from this client. */
    resumeKey: z.string(),
    conference: z.string(),
    routerRtpCapabilities: mediaObject<ms.RtpCapabilities>(),
    participants: z.array(participantInfo),
    activeSpeakerId: z.string().nullable(),
  }),
  createTransports: z.object({ send: transportInfo, recv: transportInfo }),
  connectTransport: empty,
  restartIce: z.object({ iceParameters: mediaObject<ms.IceParameters>() }),
  produce: z.object({ producerId: id }),
  closeProducer: empty,
  pauseProducer: empty,
  resumeProducer: empty,
  resumeConsumer: empty,
  setConsumerView: empty,
  raiseHand: empty,
  leave: empty,
} satisfies Record<keyof typeof sfuRequestSchemas, z.ZodType>;

export type SfuMethod = keyof typeof sfuRequestSchemas;

/** Each method's [request data, response data]. */
export type SfuRequests = {
  [M in SfuMethod]: [z.infer<(typeof sfuRequestSchemas)[M]>, z.infer<(typeof sfuResponseSchemas)[M]>];
};

/** What the node tells participants without being asked. */
export const sfuNotificationSchemas = {
  participantJoined: participantInfo,
  participantLeft: z.object({ participantId: id }),
  newConsumer: z.object({
    consumerId: id,
    producerId: id,
    participantId: id,
    kind: mediaKind,
    source: mediaSource,
    rtpParameters: mediaObject<ms.RtpParameters>(),
    producerPaused: z.boolean(),
  }),
  consumerClosed: z.object({ consumerId: id }),
  /** The sender muted or unmuted (paused or resumed its producer). */
  producerState: z.object({ participantId: id, producerId: id, paused: z.boolean() }),
  consumerLayers: z.object({ consumerId: id, spatialLayer: z.number().nullable(), temporalLayer: z.number().nullable() }),
  activeSpeaker: z.object({ participantId: id.nullable() }),
  handRaised: z.object({ participantId: id, raised: z.boolean() }),
  /** This node no longer hosts the conference (worker died, conference moved): join again through the gateway. */
  rejoin: z.object({ reason: z.string() }),
};

export type SfuNotificationName = keyof typeof sfuNotificationSchemas;
export type SfuNotifications = { [N in SfuNotificationName]: z.infer<(typeof sfuNotificationSchemas)[N]> };

/** Why a request failed, as the client sees it. */
export const sfuErrorCode = z.enum([
  /** The request is malformed or not allowed in this state. */
  'bad-request',
  /** No valid join token. */
  'unauthorized',
  /** `join` first. */
  'not-joined',
  /** No such transport, producer or consumer in your own session. */
  'not-found',
  /** The meeting has as many participants as it may. */
  'conference-full',
  /** This node takes no new conferences; the gateway picks another on the next join. */
  'node-full',
  /** The conference is hosted on another node (or moved): join again through the gateway. */
  'wrong-node',
  'rate-limited',
  'internal',
]);
export type SfuErrorCode = z.infer<typeof sfuErrorCode>;

export const sfuRequestEnvelope = z.object({ id: z.number().int().min(0), method: z.string(), data: z.unknown().optional() });

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
