/**
 * Client transactions (RFC 3261 §17.1, RFC 6026): send a request, retransmit it over UDP,
 * time out with a synthesised 408, ACK non-2xx final INVITE responses hop by hop, and
 * deliver each response once to the transaction user.
 */
import { createResponse, SipRequest, type SipResponse } from '../core/message.js';
import type { Flow } from '../transport/flow.js';
import type { TimerValues } from './timers.js';

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ClientTransactionUser {
  /**
   * Every response the TU must see: provisional, final, and (INVITE) retransmitted 2xx.
   * `synthetic` marks a 408/503 made up locally after a timeout or transport error.
   */
  onResponse(res: SipResponse, tx: ClientTransaction, synthetic?: boolean): void;
}

export interface ClientTransactionHost {
  timers: TimerValues;
  send(flow: Flow, msg: SipRequest): boolean;
  terminated(tx: ClientTransaction): void;
  /** Starts a CANCEL client transaction for `tx` (RFC 3261 §9.1). */
  startCancel(tx: ClientTransaction, cancel: SipRequest): void;
}

export class ClientTransaction {
  state: ClientTransactionState;
  #timer: NodeJS.Timeout | undefined;
  #retransmitTimer: NodeJS.Timeout | undefined;
  #cancelPending: Array<[string, string]> | undefined;
  #cancelled = false;

  readonly isInvite: boolean;
  /** Kept while it may be retransmitted, cancelled or ACKed; released after (memory). */
  #request: SipRequest | undefined;

  /** Dropped once no more responses will be delivered, so the TU's state can be collected. */
  #user: ClientTransactionUser | undefined;

  constructor(
    readonly key: string,
    request: SipRequest,
    readonly flow: Flow,
    user: ClientTransactionUser,
    private readonly host: ClientTransactionHost,
  ) {
    this.#user = user;
    this.#request = request;
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'calling' : 'trying';
  }

  get request(): SipRequest {
    if (!this.#request) throw new Error(`client transaction ${this.key} is finished`);
    return this.#request;
  }

  start(): void {
    if (!this.host.send(this.flow, this.request)) {
      // Transport error (RFC 3261 §8.1.3.1): behave as if a 503 had been received.
      queueMicrotask(() => this.#fail(503, 'Service Unavailable'));
      return;
    }
    const { T1, T2 } = this.host.timers;
    if (!this.flow.reliable) {
      // Timer A (INVITE) / Timer E (non-INVITE): retransmit with doubling intervals.
      let interval = T1;
      const retransmit = () => {
        if (this.state !== 'calling' && this.state !== 'trying' && this.state !== 'proceeding') return;
        if (this.isInvite && this.state === 'proceeding') return; // Timer A stops at the first provisional
        this.host.send(this.flow, this.request);
        interval = this.isInvite ? interval * 2 : Math.min(interval * 2, T2);
        if (!this.isInvite && this.state === 'proceeding') interval = T2;
        this.#retransmitTimer = setTimeout(retransmit, interval);
      };
      this.#retransmitTimer = setTimeout(retransmit, interval);
    }
    // Timer B / Timer F: no final answer in 64*T1 means the request timed out.
    this.#timer = setTimeout(() => this.#fail(408, 'Request Timeout'), 64 * T1);
  }

  receive(res: SipResponse): void {
    const { T4 } = this.host.timers;
    const status = res.status;
    switch (this.state) {
      case 'calling':
      case 'trying':
      case 'proceeding':
        if (status < 200) {
          this.state = 'proceeding';
          if (this.isInvite) {
            clearTimeout(this.#retransmitTimer);
            // Timer B no longer applies once the callee answered provisionally (the TU runs Timer C).
            clearTimeout(this.#timer);
            if (this.#cancelPending) this.#sendCancel(this.#cancelPending);
          }
          this.#user?.onResponse(res, this);
          return;
        }
        this.#stopTimers();
        if (this.isInvite && status < 300) {
          // RFC 3261 §17.1.1.2: a 2xx ends the INVITE client transaction. Retransmitted 2xx then
          // match no transaction and the proxy core forwards them statelessly (as RFC 6026's
          // Timer M would), without keeping this transaction's state for 32 s.
          this.#deliverLast(res);
          this.#terminate();
          return;
        }
        if (this.isInvite) {
          this.#sendAck(res);
          this.state = 'completed';
          this.#deliverLast(res);
          // Timer D: absorb retransmissions of the final response (re-ACKing them).
          this.#timer = setTimeout(() => this.#terminate(), this.flow.reliable ? 0 : 32_000);
          return;
        }
        this.state = 'completed';
        this.#request = undefined;
        this.#deliverLast(res);
        // Timer K.
        this.#timer = setTimeout(() => this.#terminate(), this.flow.reliable ? 0 : T4);
        return;
      case 'accepted':
        return;
      case 'completed':
        if (this.isInvite && status >= 300) this.#sendAck(res);
        return;
      case 'terminated':
        return;
    }
  }

  /**
   * Cancels a pending INVITE (RFC 3261 §9.1): sends CANCEL once a provisional response has
   * arrived (immediately if one already has), never after a final response.
   */
  cancel(reason?: [string, string]): void {
    if (!this.isInvite || this.#cancelled) return;
    const extra = reason ? [reason] : [];
    if (this.state === 'proceeding') this.#sendCancel(extra);
    else if (this.state === 'calling') this.#cancelPending = extra;
  }

  get cancelled(): boolean {
    return this.#cancelled || this.#cancelPending !== undefined;
  }

  #sendCancel(extra: Array<[string, string]>): void {
    this.#cancelled = true;
    this.#cancelPending = undefined;
    const inv = this.request;
    const cancel = new SipRequest('CANCEL', inv.uri);
    cancel.append('via', inv.list('via')[0]);
    for (const name of ['route', 'from', 'to', 'call-id', 'max-forwards']) {
      for (const v of inv.getAll(name)) cancel.append(name, v);
    }
    cancel.append('cseq', `${inv.cseq.seq} CANCEL`);
    for (const [n, v] of extra) cancel.append(n.toLowerCase(), v);
    this.host.startCancel(this, cancel);
  }

  /** ACK for a non-2xx final response: same branch, the response's To (RFC 3261 §17.1.1.3). */
  #sendAck(res: SipResponse): void {
    const inv = this.request;
    const ack = new SipRequest('ACK', inv.uri);
    ack.append('via', inv.list('via')[0]);
    for (const name of ['route', 'from', 'call-id', 'max-forwards']) {
      for (const v of inv.getAll(name)) ack.append(name, v);
    }
    ack.append('to', res.get('to') ?? inv.get('to') ?? '');
    ack.append('cseq', `${inv.cseq.seq} ACK`);
    this.host.send(this.flow, ack);
  }

  /** Delivers the final response; the TU hears nothing more from this transaction. */
  #deliverLast(res: SipResponse, synthetic = false): void {
    const user = this.#user;
    this.#user = undefined;
    user?.onResponse(res, this, synthetic);
  }

  /** The connection carrying this transaction closed: nothing will answer any more. */
  flowFailed(): void {
    this.#fail(503, 'Service Unavailable');
  }

  #fail(status: number, reason: string): void {
    if (this.state === 'completed' || this.state === 'accepted' || this.state === 'terminated') return;
    this.#stopTimers();
    const res = createResponse(this.request, status, { reason });
    this.state = 'terminated';
    this.#request = undefined;
    this.host.terminated(this);
    this.#deliverLast(res, true);
  }

  #stopTimers(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#retransmitTimer);
  }

  #terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.#request = undefined;
    this.#user = undefined;
    this.#stopTimers();
    this.host.terminated(this);
  }

  dispose(): void {
    this.#terminate();
  }
}
