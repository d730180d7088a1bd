/**
 * The response context of a proxied request (RFC 3261 §16.7): its branches (one per
 * target), forwarding of provisional and 2xx responses, cancelling the other branches when
 * one answers (the other devices stop ringing), Timer C, and choosing the best final
 * response when every branch has failed.
 */
import { createResponse, type SipRequest, type SipResponse } from '../core/message.js';
import type { ClientTransaction } from '../transaction/clientTransaction.js';
import type { ServerTransaction } from '../transaction/serverTransaction.js';

export interface Branch {
  tx: ClientTransaction;
  flowId: string;
  final?: SipResponse;
}

export interface ResponseContextEvents {
  /** The first final response went upstream. */
  final(res: SipResponse, branch: Branch | undefined): void;
  /** Forward a response that cannot go through the server transaction (extra 2xx). */
  forwardStateless(res: SipResponse): void;
  done(): void;
}

export class ResponseContext {
  readonly branches: Branch[] = [];
  #finalSent = false;
  #cancelledByCaller = false;
  #timedOut = false;
  #timerC: NodeJS.Timeout | undefined;

  constructor(
    readonly st: ServerTransaction,
    /** The request as received (the transaction drops its copy once answered). */
    readonly request: SipRequest,
    private readonly events: ResponseContextEvents,
    private readonly timerCMs: number,
  ) {}

  get isInvite(): boolean {
    return this.st.isInvite;
  }

  get finalSent(): boolean {
    return this.#finalSent;
  }

  addBranch(branch: Branch): void {
    this.branches.push(branch);
  }

  startTimerC(): void {
    if (!this.isInvite) return;
    clearTimeout(this.#timerC);
    this.#timerC = setTimeout(() => {
      // Nobody answered in time: stop the ringing everywhere and tell the caller.
      this.#timedOut = true;
      this.#cancelPending(['Reason', 'SIP;cause=408;text="No Answer"']);
    }, this.timerCMs);
  }

  /** The caller sent CANCEL. */
  cancel(reason?: string): void {
    this.#cancelledByCaller = true;
    this.#cancelPending(reason ? ['Reason', reason] : undefined);
  }

  /** A response from a branch, with our Via already removed. */
  onResponse(branch: Branch, res: SipResponse, synthetic: boolean): void {
    const status = res.status;
    if (status < 200) {
      if (status === 100 || this.#finalSent) return; // 100 is hop-by-hop
      this.startTimerC();
      this.st.respond(res);
      return;
    }
    if (!branch.final) branch.final = res;
    if (status < 300) {
      if (this.#finalSent) {
        // RFC 3261 §16.7 step 5: every 2xx to an INVITE is forwarded, the UAC sorts it out.
        if (this.isInvite && !synthetic) this.events.forwardStateless(res);
      } else {
        this.#sendFinal(res, branch);
        this.#cancelPending(['Reason', 'SIP;cause=200;text="Call completed elsewhere"']);
      }
    } else if (status >= 600 && !this.#finalSent) {
      this.#cancelPending(undefined);
    }
    this.#maybeFinish();
  }

  #cancelPending(reason: [string, string] | undefined): void {
    for (const b of this.branches) if (!b.final) b.tx.cancel(reason);
  }

  #maybeFinish(): void {
    if (this.branches.some((b) => !b.final)) return;
    clearTimeout(this.#timerC);
    if (!this.#finalSent) {
      const best = this.#best();
      this.#sendFinal(best.res, best.branch);
    }
    this.events.done();
  }

  #sendFinal(res: SipResponse, branch: Branch | undefined): void {
    this.#finalSent = true;
    clearTimeout(this.#timerC);
    this.st.respond(res);
    this.events.final(res, branch);
  }

  /** Best final response (RFC 3261 §16.7 step 6). */
  #best(): { res: SipResponse; branch: Branch | undefined } {
    const req = this.request;
    if (this.#cancelledByCaller) return { res: createResponse(req, 487), branch: undefined };
    if (this.#timedOut) return { res: createResponse(req, 408, { reason: 'No Answer' }), branch: undefined };
    const finals = this.branches.filter((b) => b.final) as Array<Branch & { final: SipResponse }>;
    const rank = (s: number): number => {
      if (s >= 600) return 0;
      if (s === 486 || s === 603) return 1; // a person's explicit answer beats a device's state
      if (s >= 400 && s < 500 && s !== 408) return 2;
      if (s >= 300 && s < 400) return 3;
      if (s >= 500) return 4;
      return 5; // 408: only when nothing better
    };
    finals.sort((a, b) => rank(a.final.status) - rank(b.final.status) || a.final.status - b.final.status);
    const chosen = finals[0];
    if (!chosen) return { res: createResponse(req, 480), branch: undefined };
    let res = chosen.final;
    // 503 from a downstream element must not make the caller think *we* are unavailable.
    if (res.status === 503) res = createResponse(req, 500, { reason: 'Downstream Service Unavailable' });
    return { res, branch: chosen };
  }

  dispose(): void {
    clearTimeout(this.#timerC);
  }
}
