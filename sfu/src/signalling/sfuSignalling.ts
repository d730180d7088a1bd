/**
 * WebSocket /sfu: one connection is one participant. The first request must be `join` with a
 * join token for this node; every later request acts only on that participant's own
 * transports, producers and consumers, so nobody reaches media of a room they did not join.
 * Requests are validated with the contract's schemas (contracts/sfu/signalling.ts); the
 * rooms' own refusals (RoomError) are turned into the protocol's error codes here.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { types } from 'mediasoup';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  sfuRequestEnvelope,
  sfuRequestSchemas,
  type SfuErrorCode,
  type SfuMethod,
  type SfuNotificationName,
  type SfuNotifications,
  type SfuRequests,
  type SfuResponseMessage,
  type TransportInfo,
} from '../../../contracts/sfu/signalling.js';
import { JoinTokenError, type JoinClaims } from '../../../server-common/joinToken.js';
import type { Logger } from '../../../server-common/logger.js';
import { RateLimiter } from '../../../server-common/rateLimiter.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import { RoomError, type RoomErrorReason } from '../rooms/roomError.js';
import type { RoomManager } from '../rooms/roomManager.js';
import { SfuError } from './sfuError.js';

/** How a room's refusal reads on the wire. */
const WIRE_CODE: Record<RoomErrorReason, SfuErrorCode> = {
  'meeting-full': 'conference-full',
  'node-full': 'node-full',
  'hosted-elsewhere': 'wrong-node',
  'not-yours': 'not-found',
  invalid: 'bad-request',
  left: 'not-joined',
};

/** The wire error for anything a request handler threw. */
function toWireError(err: unknown): SfuError {
  if (err instanceof SfuError) return err;
  if (err instanceof RoomError) return new SfuError(WIRE_CODE[err.reason], err.message);
  // mediasoup rejects malformed media parameters with a TypeError.
  if (err instanceof TypeError) return new SfuError('bad-request', err.message);
  return new SfuError('internal', 'The conference server could not do that.');
}

export interface SfuSignallingOptions {
  nodeId: string;
  rooms: RoomManager;
  verifyToken: (token: string) => Promise<JoinClaims>;
  maxMessageBytes: number;
  ratePerSecond: number;
  logger: Logger;
  /** A connection that has not joined after this long is closed. */
  joinTimeoutMs?: number;
}

export class SfuSignalling {
  readonly #options: SfuSignallingOptions;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<WebSocket>();
  readonly #pingTimer: NodeJS.Timeout;

  constructor(options: SfuSignallingOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes });
    this.#pingTimer = setInterval(() => this.#pingAll(), 15_000);
    this.#pingTimer.unref();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  close(): void {
    clearInterval(this.#pingTimer);
    for (const ws of this.#connections) ws.close(1001, 'server shutting down');
    this.#wss.close();
  }

  #pingAll(): void {
    for (const ws of this.#connections) {
      const alive = ws as WebSocket & { parleyAlive?: boolean };
      if (alive.parleyAlive === false) {
        ws.terminate();
        continue;
      }
      alive.parleyAlive = false;
      ws.ping();
    }
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    this.#connections.add(ws);
    // Protocol violations (oversized or malformed frames) close the socket with the right code; nothing to add.
    ws.on('error', () => {});
    const session = new SignallingSession(ws, this.#options, req.socket.remoteAddress ?? '');
    (ws as WebSocket & { parleyAlive?: boolean }).parleyAlive = true;
    ws.on('pong', () => ((ws as WebSocket & { parleyAlive?: boolean }).parleyAlive = true));
    ws.on('close', () => {
      this.#connections.delete(ws);
      session.end();
    });
  }
}

/** One connection's state: before join, then one participant in one room. */
class SignallingSession {
  readonly #ws: WebSocket;
  readonly #options: SfuSignallingOptions;
  readonly #limiter: RateLimiter;
  readonly #key = crypto.randomUUID();
  #room: Room | undefined;
  #participant: Participant | undefined;
  #joining = false;
  #joinTimer: NodeJS.Timeout | undefined;

  constructor(ws: WebSocket, options: SfuSignallingOptions, readonly remoteAddress: string) {
    this.#ws = ws;
    this.#options = options;
    this.#limiter = new RateLimiter(options.ratePerSecond);
    this.#joinTimer = setTimeout(() => {
      if (!this.#participant) ws.close(4001, 'join first');
    }, options.joinTimeoutMs ?? 10_000);
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(1003, 'JSON text only');
        return;
      }
      void this.#onMessage(data.toString());
    });
  }

  end(): void {
    clearTimeout(this.#joinTimer);
    if (this.#room && this.#participant) this.#room.leave(this.#participant, 'disconnected');
    this.#participant = undefined;
  }

  #notify = <N extends SfuNotificationName>(name: N, data: SfuNotifications[N]): void => {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(JSON.stringify({ notification: name, data }));
    if (name === 'rejoin') {
      // The room is gone from this node; the client joins again through the gateway.
      this.#participant = undefined;
      this.#room = undefined;
      this.#ws.close(4002, 'rejoin');
    }
  };

  async #onMessage(text: string): Promise<void> {
    let requestId = 0;
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new SfuError('bad-request', 'Messages must be JSON.');
      }
      const parsedEnvelope = sfuRequestEnvelope.safeParse(raw);
      if (!parsedEnvelope.success) throw new SfuError('bad-request', 'Expected {id, method, data}.');
      requestId = parsedEnvelope.data.id;
      if (!this.#limiter.take(this.#key)) throw new SfuError('rate-limited', 'Too many requests; slow down.');
      const method = parsedEnvelope.data.method;
      if (!Object.hasOwn(sfuRequestSchemas, method)) throw new SfuError('bad-request', `Unknown method ${method}.`);
      const schema = sfuRequestSchemas[method as SfuMethod];
      const parsed = schema.safeParse(parsedEnvelope.data.data ?? {});
      if (!parsed.success) {
        throw new SfuError('bad-request', `Invalid ${method} request: ${parsed.error.issues[0]?.message ?? ''}`);
      }
      const result = await this.#dispatch(method as SfuMethod, parsed.data);
      this.#reply({ id: requestId, ok: true, data: result } as SfuResponseMessage);
    } catch (err) {
      const error = toWireError(err);
      if (error.code === 'internal') this.#options.logger.warn({ err: (err as Error).message }, 'sfu request failed');
      this.#reply({ id: requestId, ok: false, error: { code: error.code, message: error.message } });
    }
  }

  #reply(message: SfuResponseMessage): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify(message));
  }

  async #dispatch(method: SfuMethod, data: unknown): Promise<unknown> {
    if (method === 'join') return this.#join(data as SfuRequests['join'][0]);
    const room = this.#room;
    const me = this.#participant;
    if (!room || !me) throw new SfuError('not-joined', 'Join the meeting first.');
    switch (method) {
      case 'createTransports': {
        const { rtpCapabilities } = data as { rtpCapabilities: types.RtpCapabilities };
        const { send, recv } = await room.createTransports(me, rtpCapabilities);
        return { send: transportInfo(send), recv: transportInfo(recv) };
      }
      case 'connectTransport': {
        const { transportId, dtlsParameters } = data as { transportId: string; dtlsParameters: types.DtlsParameters };
        await webRtc(room.transport(me, transportId)).connect({ dtlsParameters });
        return {};
      }
      case 'restartIce': {
        const { transportId } = data as SfuRequests['restartIce'][0];
        return { iceParameters: await webRtc(room.transport(me, transportId)).restartIce() };
      }
      case 'produce': {
        const request = data as SfuRequests['produce'][0];
        const producerId = await room.produce(me, {
          ...request,
          rtpParameters: request.rtpParameters as unknown as types.RtpParameters,
        });
        return { producerId };
      }
      case 'closeProducer': {
        room.ownProducer(me, (data as { producerId: string }).producerId).producer.close();
        return {};
      }
      case 'pauseProducer':
      case 'resumeProducer': {
        await room.setProducerPaused(me, (data as { producerId: string }).producerId, method === 'pauseProducer');
        return {};
      }
      case 'resumeConsumer': {
        await room.resumeConsumer(me, (data as { consumerId: string }).consumerId);
        return {};
      }
      case 'setConsumerView': {
        const { consumerId, ...view } = data as SfuRequests['setConsumerView'][0];
        await room.setConsumerView(me, consumerId, view);
        return {};
      }
      case 'raiseHand': {
        room.setHandRaised(me, (data as { raised: boolean }).raised);
        return {};
      }
      case 'leave': {
        room.leave(me, 'left');
        this.#participant = undefined;
        this.#room = undefined;
        setImmediate(() => this.#ws.close(1000, 'left'));
        return {};
      }
    }
  }

  async #join(request: SfuRequests['join'][0]): Promise<SfuRequests['join'][1]> {
    if (this.#participant || this.#joining) throw new SfuError('bad-request', 'Already joined.');
    this.#joining = true;
    try {
      let claims: JoinClaims;
      try {
        claims = await this.#options.verifyToken(request.token);
      } catch (err) {
        const message = err instanceof JoinTokenError ? err.message : 'The join token is not valid';
        throw new SfuError('unauthorized', `${message}; open the meeting link again.`);
      }
      if (claims.nodeId !== this.#options.nodeId) {
        throw new SfuError('wrong-node', 'This meeting is hosted on another server; join again.');
      }
      const room = await this.#options.rooms.getOrCreate(claims.conference);
      const participant = await room.join({
        id: crypto.randomUUID(),
        userId: claims.userId,
        displayName: claims.displayName,
        role: claims.role,
        notify: this.#notify,
        resume: request.resume,
      });
      if (this.#ws.readyState !== this.#ws.OPEN) {
        room.leave(participant, 'disconnected');
        throw new SfuError('not-joined', 'Connection closed.');
      }
      clearTimeout(this.#joinTimer);
      this.#room = room;
      this.#participant = participant;
      return {
        you: participant.info(),
        resumeKey: participant.resumeKey,
        conference: room.name,
        routerRtpCapabilities: room.routerRtpCapabilities as SfuRequests['join'][1]['routerRtpCapabilities'],
        participants: room.participants().filter((p) => p.id !== participant.id),
        activeSpeakerId: room.activeSpeakerId,
      };
    } finally {
      this.#joining = false;
    }
  }
}

/** Clients of /sfu are browsers: their transports are WebRTC ones. */
function webRtc(t: types.Transport): types.WebRtcTransport {
  if (t.type !== 'webrtc') throw new SfuError('bad-request', 'Not a WebRTC transport.');
  return t as types.WebRtcTransport;
}

function transportInfo(t: types.Transport): TransportInfo {
  const w = webRtc(t);
  return {
    id: w.id,
    iceParameters: w.iceParameters,
    iceCandidates: w.iceCandidates as TransportInfo['iceCandidates'],
    dtlsParameters: w.dtlsParameters as TransportInfo['dtlsParameters'],
  };
}
