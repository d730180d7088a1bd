/**
 * XEP-0198 Stream Management, server side: stanza counters, the queue of stanzas the client
 * has not acknowledged yet, and what resumption needs (an id and the queue).
 */
import crypto from 'node:crypto';
import type { Element } from 'ltx';

/** Ask the client for an ack after this many unacknowledged stanzas. */
const REQUEST_ACK_EVERY = 5;
/** Counters wrap at 2^32 (XEP-0198 §4). */
const WRAP = 2 ** 32;

export class StreamManagement {
  readonly id = crypto.randomBytes(15).toString('base64url');
  /** Stanzas received from the client (the h we report). */
  inbound = 0;
  /** Stanzas sent to the client. */
  outbound = 0;
  #unacked: Array<{ seq: number; stanza: Element }> = [];
  #sinceRequest = 0;

  constructor(readonly resumable: boolean) {}

  get unackedCount(): number {
    return this.#unacked.length;
  }

  /** Records an outbound stanza; returns true when an <r/> should follow it. */
  sent(stanza: Element): boolean {
    this.outbound = (this.outbound + 1) % WRAP;
    this.#unacked.push({ seq: this.outbound, stanza });
    this.#sinceRequest++;
    if (this.#sinceRequest >= REQUEST_ACK_EVERY) {
      this.#sinceRequest = 0;
      return true;
    }
    return false;
  }

  received(): void {
    this.inbound = (this.inbound + 1) % WRAP;
  }

  /** The client has handled everything up to h. Returns false for an impossible h. */
  acknowledge(h: number): boolean {
    if (!Number.isInteger(h) || h < 0 || h >= WRAP) return false;
    const pending = this.#unacked.length;
    // How many of the queued stanzas h covers (counters wrap).
    const lastSeq = this.outbound;
    const acked = pending - ((lastSeq - h + WRAP) % WRAP);
    if (acked < 0 || acked > pending) return false;
    this.#unacked.splice(0, acked);
    return true;
  }

  /** Stanzas not yet acknowledged (to resend after resumption, or to rescue at the end). */
  takeUnacked(): Element[] {
    const out = this.#unacked.map((u) => u.stanza);
    this.#unacked = [];
    return out;
  }

  /** Re-queues stanzas for resending on a resumed stream (their counters restart from h). */
  peekUnacked(): Element[] {
    return this.#unacked.map((u) => u.stanza);
  }
}
