/**
 * Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE):
 * they absorb request retransmissions by repeating the last response and, over UDP,
 * retransmit a non-2xx final INVITE response until the ACK comes.
 *
 * Once a final response is sent the transaction keeps only what it needs to repeat it
 * (the bytes and where they went), not the parsed request: at thousands of requests per
 * second the lingering transactions would otherwise dominate memory.
 */
import type { SipRequest, SipResponse } from '../core/message.js';
import type { Flow } from '../transport/flow.js';
import type { TimerValues } from './timers.js';

export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated';

/** A response as sent: the bytes and the flow they went out on, for retransmission. */
export interface SentResponse {
  flow: Flow;
  data: Buffer;
}

export interface ServerTransactionHost {
  timers: TimerValues;
  /** Sends a response for `tx` (the transport layer picks the flow from the Via). */
  sendResponse(tx: ServerTransaction, res: SipResponse): SentResponse | undefined;
  resend(sent: SentResponse): void;
  terminated(tx: ServerTransaction): void;
}

export class ServerTransaction {
  state: ServerTransactionState;
  readonly isInvite: boolean;
  #request: SipRequest | undefined;
  #last: SentResponse | undefined;
  #lastStatus: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retransmitTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly key: string,
    request: SipRequest,
    readonly flow: Flow,
    private readonly host: ServerTransactionHost,
  ) {
    this.#request = request;
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'proceeding' : 'trying';
  }

  /** The request; only available until the final response has been sent. */
  get request(): SipRequest {
    if (!this.#request) throw new Error(`server transaction ${this.key} already answered`);
    return this.#request;
  }

  get lastStatus(): number | undefined {
    return this.#lastStatus;
  }

  get isFinal(): boolean {
    return this.state !== 'trying' && this.state !== 'proceeding';
  }

  respond(res: SipResponse): void {
    if (this.isFinal) return; // a final answer was already given; late ones are dropped
    this.#lastStatus = res.status;
    this.#last = this.host.sendResponse(this, res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.#request = undefined;
    const { T1, T2, T4 } = this.host.timers;
    const reliable = this.flow.reliable;
    if (!this.isInvite) {
      this.state = 'completed';
      // Timer J absorbs request retransmissions. RFC 3261 says 64*T1 on UDP; like Kamailio's
      // wait timer we keep T4 (5 s), which covers a lost final response, at a fraction of the memory.
      this.#setTimer(reliable ? 0 : T4, () => this.#terminate());
      return;
    }
    if (res.status < 300) {
      // RFC 6026 Accepted: retransmitted INVITEs are absorbed silently; 2xx retransmissions are
      // end-to-end, so the bytes need not be kept.
      this.state = 'accepted';
      this.#last = undefined;
      this.#setTimer(reliable ? T4 : 64 * T1, () => this.#terminate());
      return;
    }
    this.state = 'completed';
    if (!reliable) {
      // Timer G: retransmit the final response, doubling up to T2, until the ACK.
      let interval = T1;
      const retransmit = () => {
        if (this.state !== 'completed') return;
        if (this.#last) this.host.resend(this.#last);
        interval = Math.min(interval * 2, T2);
        this.#retransmitTimer = setTimeout(retransmit, interval);
      };
      this.#retransmitTimer = setTimeout(retransmit, interval);
    }
    // Timer H: give up waiting for the ACK.
    this.#setTimer(64 * T1, () => this.#terminate());
  }

  /** A retransmission of the request arrived. */
  receiveRetransmission(): void {
    if (this.#last && (this.state === 'proceeding' || this.state === 'completed')) this.host.resend(this.#last);
  }

  /** The ACK for a non-2xx final response arrived. */
  receiveAck(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.#last = undefined; // ACK retransmissions are absorbed silently
    clearTimeout(this.#retransmitTimer);
    // Timer I: absorb ACK retransmissions for T4 on UDP.
    this.#setTimer(this.flow.reliable ? 0 : this.host.timers.T4, () => this.#terminate());
  }

  #setTimer(ms: number, fn: () => void): void {
    clearTimeout(this.#timer);
    if (ms === 0) {
      fn();
      return;
    }
    this.#timer = setTimeout(fn, ms);
  }

  #terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.#request = undefined;
    this.#last = undefined;
    clearTimeout(this.#timer);
    clearTimeout(this.#retransmitTimer);
    this.host.terminated(this);
  }

  /** Stops every timer (server shutdown). */
  dispose(): void {
    this.#terminate();
  }
}
