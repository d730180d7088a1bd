/**
 * The transaction layer (RFC 3261 §17): matches incoming requests to server transactions
 * and responses to client transactions, and passes everything else up to the transaction
 * user (the registrar/proxy core): new requests, ACKs for 2xx, and stray responses
 * (retransmitted 2xx after the client transaction ended) which a proxy forwards statelessly.
 */
import type { SipRequest, SipResponse } from '../core/message.js';
import type { Flow } from '../transport/flow.js';
import type { TransportLayer } from '../transport/transportLayer.js';
import { TypedEmitter } from '../../../../server-common/typedEmitter.js';
import { ClientTransaction, type ClientTransactionHost, type ClientTransactionUser } from './clientTransaction.js';
import { clientKey, serverKey } from './key.js';
import { ServerTransaction, type SentResponse, type ServerTransactionHost } from './serverTransaction.js';
import { DEFAULT_TIMERS, type TimerValues } from './timers.js';

export interface TransactionLayerEvents {
  /** A new request with its server transaction (never ACK). */
  request: [SipRequest, ServerTransaction];
  /** An ACK that matched no server transaction: the ACK for a 2xx, end to end. */
  ack: [SipRequest, Flow];
  /** A response that matched no client transaction. */
  strayResponse: [SipResponse, Flow];
}

export class TransactionLayer extends TypedEmitter<TransactionLayerEvents> {
  readonly timers: TimerValues;
  readonly #transport: TransportLayer;
  readonly #servers = new Map<string, ServerTransaction>();
  readonly #clients = new Map<string, ClientTransaction>();
  /** Client transactions per connection, failed at once when the connection closes. */
  readonly #clientsByFlow = new Map<string, Set<ClientTransaction>>();

  constructor(transport: TransportLayer, timers: TimerValues = DEFAULT_TIMERS) {
    super();
    this.#transport = transport;
    this.timers = timers;
    this.#serverHost.timers = timers;
    this.#clientHost.timers = timers;
    transport.on('request', (req, flow) => this.#onRequest(req, flow));
    transport.on('response', (res, flow) => this.#onResponse(res, flow));
    transport.on('flowClosed', (flow) => {
      const txs = this.#clientsByFlow.get(flow.id);
      this.#clientsByFlow.delete(flow.id);
      for (const tx of txs ?? []) tx.flowFailed();
    });
  }

  get counts(): { server: number; client: number } {
    return { server: this.#servers.size, client: this.#clients.size };
  }

  /** The INVITE server transaction a CANCEL refers to (RFC 3261 §9.2). */
  findInviteFor(cancel: SipRequest): ServerTransaction | undefined {
    const key = serverKey(cancel).replace(/\|CANCEL$/, '|INVITE');
    return this.#servers.get(key);
  }

  /** Sends a request statefully over `flow`; responses go to `user`. */
  sendRequest(req: SipRequest, flow: Flow, user: ClientTransactionUser): ClientTransaction {
    const key = `${req.topVia!.branch}|${req.method}`;
    const tx = new ClientTransaction(key, req, flow, user, this.#clientHost);
    this.#clients.set(key, tx);
    if (flow.reliable) {
      let set = this.#clientsByFlow.get(flow.id);
      if (!set) this.#clientsByFlow.set(flow.id, (set = new Set()));
      set.add(tx);
    }
    tx.start();
    return tx;
  }

  readonly #serverHost: ServerTransactionHost = {
    timers: DEFAULT_TIMERS,
    sendResponse: (tx: ServerTransaction, res: SipResponse) => {
      const flow = this.#transport.responseFlow(res.topVia!, tx.flow);
      if (!flow) return undefined;
      const data = res.toBuffer();
      this.#transport.sendBytes(flow, data);
      return { flow, data };
    },
    resend: (sent: SentResponse) => this.#transport.sendBytes(sent.flow, sent.data),
    terminated: (tx: ServerTransaction) => {
      if (this.#servers.get(tx.key) === tx) this.#servers.delete(tx.key);
    },
  };

  readonly #clientHost: ClientTransactionHost = {
    timers: DEFAULT_TIMERS,
    send: (flow: Flow, msg: SipRequest) => this.#transport.send(flow, msg),
    terminated: (tx: ClientTransaction) => {
      if (this.#clients.get(tx.key) === tx) this.#clients.delete(tx.key);
      const set = this.#clientsByFlow.get(tx.flow.id);
      if (set) {
        set.delete(tx);
        if (!set.size) this.#clientsByFlow.delete(tx.flow.id);
      }
    },
    startCancel: (tx: ClientTransaction, cancel: SipRequest) => {
      // Responses to the CANCEL need no handling by the TU: the INVITE gets its 487.
      this.sendRequest(cancel, tx.flow, { onResponse: () => {} });
    },
  };

  #onRequest(req: SipRequest, flow: Flow): void {
    const key = serverKey(req);
    const existing = this.#servers.get(key);
    if (req.method === 'ACK') {
      if (existing && existing.state === 'completed') existing.receiveAck();
      else if (existing && existing.state === 'confirmed') {
        // retransmitted ACK: absorbed
      } else this.emit('ack', req, flow);
      return;
    }
    if (existing) {
      existing.receiveRetransmission();
      return;
    }
    const tx = new ServerTransaction(key, req, flow, this.#serverHost);
    this.#servers.set(key, tx);
    this.emit('request', req, tx);
  }

  #onResponse(res: SipResponse, flow: Flow): void {
    const key = clientKey(res);
    const tx = key ? this.#clients.get(key) : undefined;
    if (tx) tx.receive(res);
    else this.emit('strayResponse', res, flow);
  }

  dispose(): void {
    for (const tx of [...this.#servers.values()]) tx.dispose();
    for (const tx of [...this.#clients.values()]) tx.dispose();
  }
}
