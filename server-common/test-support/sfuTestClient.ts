/**
 * A conference participant in Node for integration tests: speaks the /sfu protocol
 * (contracts/sfu/signalling.ts) with mediasoup-client's FakeHandler, which builds real
 * mediasoup parameters without a browser; it can also sign in (or use a guest link) through
 * the gateway's REST API first. Media does not flow; signalling, authorisation, producers and
 * consumers on the real SFU do. Every response and notification the node sends is checked
 * against the contract's schemas: a message that breaks the contract fails the test.
 */
import { Device, FakeHandler, testFakeParameters, type types } from 'mediasoup-client';
import { FakeMediaStreamTrack } from 'fake-mediastreamtrack';
import WebSocket from 'ws';
import { conferenceJoin } from '../../contracts/rest/conferences.js';
import {
  sfuNotificationSchemas,
  sfuResponseSchemas,
  type MediaSource,
  type SfuMethod,
  type SfuNotificationMessage,
  type SfuNotificationName,
  type SfuNotifications,
  type SfuRequests,
  type SfuResponseMessage,
} from '../../contracts/sfu/signalling.js';
import { api } from './restClient.js';

export class SfuRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class SfuTestClient {
  readonly ws: WebSocket;
  readonly notifications: SfuNotificationMessage[] = [];
  readonly device = new Device({ handlerFactory: FakeHandler.createFactory(testFakeParameters) });
  sendTransport: types.Transport | undefined;
  recvTransport: types.Transport | undefined;
  joined: SfuRequests['join'][1] | undefined;
  /** Messages from the node that did not match the contract (each fails the request or wait it belongs to). */
  readonly contractViolations: string[] = [];
  #nextId = 1;
  readonly #pending = new Map<number, (m: SfuResponseMessage) => void>();
  readonly #methodOf = new Map<number, SfuMethod>();
  readonly #waiters: (() => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as SfuResponseMessage | SfuNotificationMessage;
      if ('notification' in message) {
        const schema = sfuNotificationSchemas[message.notification];
        const checked = schema?.safeParse(message.data);
        if (!checked?.success) this.contractViolations.push(`notification ${message.notification}: ${checked?.error.message ?? 'unknown name'}`);
        this.notifications.push(message);
        for (const wake of this.#waiters.splice(0)) wake();
      } else {
        const method = this.#methodOf.get(message.id);
        if (message.ok && method) {
          const checked = sfuResponseSchemas[method].safeParse(message.data);
          if (!checked.success) this.contractViolations.push(`response to ${method}: ${checked.error.message}`);
        }
        this.#methodOf.delete(message.id);
        this.#pending.get(message.id)?.(message);
        this.#pending.delete(message.id);
      }
    });
  }

  static async connect(url: string): Promise<SfuTestClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new SfuTestClient(ws);
  }

  /** Asks the gateway for a join token, connects to the node it names and joins. */
  static async joinThroughGateway(
    gatewayUrl: string,
    conference: string,
    auth: { cookie?: string; guestToken?: string; displayName?: string },
  ): Promise<SfuTestClient> {
    const { status, body } = await api(gatewayUrl, 'POST', `/api/conferences/${conference}/join`, {
      cookie: auth.cookie,
      body: { guestToken: auth.guestToken, displayName: auth.displayName },
    });
    if (status !== 200) throw new Error(`join API answered ${status}: ${JSON.stringify(body)}`);
    const answer = conferenceJoin.parse(body);
    const url = answer.sfuUrl || `${gatewayUrl.replace(/^http/, 'ws')}/sfu`;
    const client = await SfuTestClient.connect(url);
    await client.join(answer.token);
    return client;
  }

  async request<M extends SfuMethod>(method: M, data: SfuRequests[M][0]): Promise<SfuRequests[M][1]> {
    const id = this.#nextId++;
    const reply = new Promise<SfuResponseMessage>((resolve) => this.#pending.set(id, resolve));
    this.#methodOf.set(id, method);
    this.ws.send(JSON.stringify({ id, method, data }));
    const message = await reply;
    this.#assertContract();
    if (!message.ok) throw new SfuRequestError(message.error.code, message.error.message);
    return message.data as SfuRequests[M][1];
  }

  /** Sends raw text and returns the reply (for malformed-input tests). */
  async raw(text: string, id: number): Promise<SfuResponseMessage> {
    const reply = new Promise<SfuResponseMessage>((resolve) => this.#pending.set(id, resolve));
    this.ws.send(text);
    return reply;
  }

  async join(token: string, resume?: { participantId: string; key: string }): Promise<SfuRequests['join'][1]> {
    this.joined = await this.request('join', { token, ...(resume ? { resume } : {}) });
    return this.joined;
  }

  /** Loads the device and creates both transports (the server then offers existing streams). */
  async setUpMedia(): Promise<void> {
    await this.device.load({ routerRtpCapabilities: this.joined!.routerRtpCapabilities });
    const { send, recv } = await this.request('createTransports', { rtpCapabilities: this.device.rtpCapabilities });
    this.sendTransport = this.device.createSendTransport(send);
    this.recvTransport = this.device.createRecvTransport(recv);
    for (const transport of [this.sendTransport, this.recvTransport]) {
      transport.on('connect', ({ dtlsParameters }, ok, fail) => {
        this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => ok(), fail);
      });
    }
    this.sendTransport.on('produce', ({ kind, rtpParameters, appData }, ok, fail) => {
      this.request('produce', { kind, rtpParameters, source: appData.source as MediaSource }).then(
        ({ producerId }) => ok({ id: producerId }),
        fail,
      );
    });
  }

  async produce(source: MediaSource): Promise<types.Producer> {
    const kind = source === 'mic' ? 'audio' : 'video';
    const track = new FakeMediaStreamTrack({ kind }) as unknown as MediaStreamTrack;
    return this.sendTransport!.produce({
      track,
      appData: { source },
      ...(source === 'camera' ? { encodings: [{ scaleResolutionDownBy: 4 }, { scaleResolutionDownBy: 2 }, {}] } : {}),
    });
  }

  /** Accepts an offered stream the way the web client does, and asks the server to start it. */
  async accept(offer: SfuNotifications['newConsumer']): Promise<types.Consumer> {
    const consumer = await this.recvTransport!.consume({
      id: offer.consumerId,
      producerId: offer.producerId,
      kind: offer.kind,
      rtpParameters: offer.rtpParameters,
    });
    await this.request('resumeConsumer', { consumerId: offer.consumerId });
    return consumer;
  }

  offers(): SfuNotifications['newConsumer'][] {
    return this.notifications
      .filter((n): n is SfuNotificationMessage<'newConsumer'> => n.notification === 'newConsumer')
      .map((n) => n.data);
  }

  async waitFor<N extends SfuNotificationName>(
    name: N,
    predicate: (data: SfuNotifications[N]) => boolean = () => true,
    limitMs = 10_000,
  ): Promise<SfuNotifications[N]> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      this.#assertContract();
      const found = this.notifications.find((n) => n.notification === name && predicate(n.data as SfuNotifications[N]));
      if (found) return found.data as SfuNotifications[N];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${name}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }

  #assertContract(): void {
    if (this.contractViolations.length) throw new Error(`The SFU broke the signalling contract: ${this.contractViolations.join('; ')}`);
  }
}
