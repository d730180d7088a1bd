/**
 * What the proxy does about a call's media: leave it peer to peer when both sides speak the
 * same profile, send it through the media bridge (rtpengine) when they do not or when a
 * phone's media must be anchored (NAT), and refuse at once — 488 with a reason — when a
 * bridge is needed and there is none, instead of ringing into silence.
 *
 * It keeps the bridged calls it set up, rewrites their offers and answers (the first INVITE,
 * each fork, re-INVITEs and UPDATEs), and ends them in rtpengine on BYE, on a failed or
 * cancelled INVITE, when a flow of the call dies, and forgets those rtpengine timed out.
 */
import type { Logger } from '../../../../server-common/logger.js';
import type { BridgedProfile, MediaBridge } from '../../media/mediaBridge.js';
import type { SipMessage, SipRequest, SipResponse } from '../core/message.js';
import { SipUri, parseUri } from '../core/uri.js';
import type { Binding } from '../registrar/locationStore.js';
import { mediaAddresses, sessionProfile, type SessionDescription } from '../sdp/sessionDescription.js';
import type { Flow } from '../transport/flow.js';

export interface CallMediaOptions {
  /** The media bridge, when the operator has one (PARLEY_MEDIA_BRIDGE). */
  bridge?: MediaBridge;
  /** Bridge every call, browser to browser too (PARLEY_MEDIA_BRIDGE_ALWAYS). */
  always: boolean;
  /** Most calls held in the bridge at once through this node; more are refused with 503. */
  maxCalls: number;
  /** How often calls rtpengine may have ended by itself (no media) are looked for. */
  checkIntervalMs?: number;
  logger: Logger;
}

/** What a caller's offer speaks, and whether its media is to be anchored. */
export interface OfferMedia {
  profile: BridgedProfile;
  /** The offer names an address other than the one its signalling came from (NAT). */
  natted: boolean;
  sourceAddress: string;
}

export type LegPlan =
  | { kind: 'direct' }
  | { kind: 'bridge'; to: BridgedProfile }
  /** 488 (no bridge for media that needs one) or 503 (the bridge is full or does not answer). */
  | { kind: 'refuse'; status: 488 | 503; why: string };

interface BridgedCall {
  callId: string;
  /** Each side's tag and what it speaks; the callee's tag is known from its answer. */
  profiles: Map<string, BridgedProfile>;
  callerTag: string;
  /** Each fork's Via branch and what its target speaks. */
  forks: Map<string, BridgedProfile>;
  flows: Set<string>;
  /** An in-dialog offer waiting for its answer: its CSeq and who sent it. */
  pendingOffer?: { cseq: number; fromTag: string; toTag: string };
  answered: boolean;
}

/** Devices whose media profile was learned from what they sent, by signalling source. */
const MAX_LEARNED = 10_000;

export class CallMedia {
  readonly #o: CallMediaOptions;
  readonly #calls = new Map<string, BridgedCall>();
  readonly #learned = new Map<string, BridgedProfile>();
  #sweep: NodeJS.Timeout | undefined;
  /** Calls sent through the bridge, and refused because it was needed and missing. */
  readonly counts = { bridged: 0, refused: 0 };

  constructor(options: CallMediaOptions) {
    this.#o = options;
    if (options.bridge) {
      this.#sweep = setInterval(() => void this.#forgetTimedOut(), options.checkIntervalMs ?? 30_000);
      this.#sweep.unref();
    }
  }

  get bridgedCalls(): number {
    return this.#calls.size;
  }

  /** Reads an out-of-dialog offer; remembers what its device speaks. */
  describeOffer(offer: SessionDescription | undefined, flow: Flow): OfferMedia | undefined {
    if (!offer) return undefined;
    const profile = sessionProfile(offer);
    if (!profile) return undefined;
    if (flow.protocol !== 'ws' && flow.protocol !== 'wss') this.#learn(`${flow.remoteAddress}:${flow.remotePort}`, profile);
    const natted =
      profile !== 'webrtc' && mediaAddresses(offer).some((a) => a !== '' && a !== '0.0.0.0' && a !== flow.remoteAddress);
    return { profile, natted, sourceAddress: flow.remoteAddress };
  }

  /** Whether the leg to one registered device is direct, bridged, or cannot be made. */
  plan(offer: OfferMedia | undefined, target: Binding): LegPlan {
    if (!offer) return { kind: 'direct' };
    const browser = target.transport === 'ws' || target.transport === 'wss';
    const learned = browser ? 'webrtc' : this.#learned.get(`${target.sourceAddress}:${target.sourcePort}`);
    // A phone not seen yet is taken to speak plain RTP (what almost all phones do; SDES-SRTP
    // over TLS) when a bridge can make sure; without one, it gets the offer as it is and decides.
    const unseen: BridgedProfile = target.transport === 'tls' ? 'srtp-sdes' : 'rtp';
    const speaks: BridgedProfile | undefined = learned ?? (this.#o.bridge ? unseen : undefined);
    const anchor = offer.natted || (!browser && targetNatted(target));
    const differs = speaks !== undefined && speaks !== offer.profile;
    if (!differs && !anchor && !this.#o.always) return { kind: 'direct' };
    if (!this.#o.bridge) {
      if (!differs) return { kind: 'direct' };
      return { kind: 'refuse', status: 488, why: noBridgeReason(offer.profile, speaks!) };
    }
    if (this.#calls.size >= this.#o.maxCalls) return { kind: 'refuse', status: 503, why: 'The media bridge is carrying as many calls as it may' };
    return { kind: 'bridge', to: speaks ?? offer.profile };
  }

  /** The offer one fork's target gets through the bridge; records the call. */
  async offerToFork(req: SipRequest, viaBranch: string, to: BridgedProfile, offer: OfferMedia, callerFlow: Flow): Promise<Buffer> {
    const bridge = this.#o.bridge!;
    const callerTag = req.from.tag ?? '';
    const sdp = await bridge.offer({
      callId: req.callId,
      fromTag: callerTag,
      viaBranch,
      sdp: req.body.toString('utf8'),
      to,
      sourceAddress: offer.natted ? offer.sourceAddress : undefined,
    });
    let call = this.#calls.get(req.callId);
    if (!call) {
      call = { callId: req.callId, profiles: new Map([[callerTag, offer.profile]]), callerTag, forks: new Map(), flows: new Set([callerFlow.id]), answered: false };
      this.#calls.set(req.callId, call);
      this.counts.bridged++;
    }
    call.forks.set(viaBranch, to);
    return Buffer.from(sdp);
  }

  /** Notes the flow a bridged fork went out on, so the call ends if it dies. */
  forkFlow(callId: string, flowId: string): void {
    this.#calls.get(callId)?.flows.add(flowId);
  }

  /**
   * Rewrites the answer in a response to the first INVITE (provisional or 2xx) from a bridged
   * fork, in place, for the caller; when the bridge fails on it, the response goes on as it is.
   */
  async answerFromFork(res: SipResponse, viaBranch: string): Promise<void> {
    const call = this.#calls.get(res.callId);
    const to = call?.forks.get(viaBranch);
    if (!call || !to || !hasSdp(res)) return;
    const calleeTag = res.to.tag ?? '';
    try {
      const sdp = await this.#o.bridge!.answer({
        callId: call.callId,
        fromTag: call.callerTag,
        toTag: calleeTag,
        viaBranch,
        sdp: res.body.toString('utf8'),
        to: call.profiles.get(call.callerTag)!,
      });
      res.body = Buffer.from(sdp);
      if (res.status >= 200) {
        call.profiles.set(calleeTag, to);
        call.answered = true;
      }
    } catch (err) {
      this.#o.logger.warn({ callId: call.callId, err: (err as Error).message }, 'media bridge: answer failed');
    }
  }

  /** A re-INVITE or UPDATE in a bridged call: its offer, rewritten for the other side, in place. */
  async inDialogOffer(req: SipRequest): Promise<void> {
    const call = this.#calls.get(req.callId);
    if (!call || !hasSdp(req)) return;
    const fromTag = req.from.tag ?? '';
    const toTag = req.to.tag ?? '';
    const to = call.profiles.get(toTag);
    if (!to) return;
    const sdp = await this.#o.bridge!.offer({ callId: call.callId, fromTag, toTag, sdp: req.body.toString('utf8'), to });
    req.body = Buffer.from(sdp);
    call.pendingOffer = { cseq: req.cseq.seq, fromTag, toTag };
  }

  /** The answer to an in-dialog offer of a bridged call, rewritten for the offerer, in place. */
  async inDialogAnswer(res: SipResponse): Promise<void> {
    const call = this.#calls.get(res.callId);
    const pending = call?.pendingOffer;
    if (!call || !pending || pending.cseq !== res.cseq.seq || !hasSdp(res)) return;
    const sdp = await this.#o.bridge!.answer({
      callId: call.callId,
      fromTag: pending.fromTag,
      toTag: pending.toTag,
      sdp: res.body.toString('utf8'),
      to: call.profiles.get(pending.fromTag)!,
    });
    res.body = Buffer.from(sdp);
    if (res.status >= 200) call.pendingOffer = undefined;
  }

  isBridged(callId: string): boolean {
    return this.#calls.has(callId);
  }

  /** The call is over (BYE, or its INVITE failed): its media in rtpengine goes. */
  ended(callId: string): void {
    if (!this.#calls.delete(callId)) return;
    void this.#o.bridge!.delete(callId);
  }

  /** The first INVITE got a final answer: a failure ends the bridged call. */
  inviteFinal(callId: string, status: number): void {
    if (status >= 300) this.ended(callId);
  }

  flowClosed(flowId: string): void {
    for (const call of [...this.#calls.values()]) if (call.flows.has(flowId)) this.ended(call.callId);
  }

  dispose(): void {
    clearInterval(this.#sweep);
    for (const callId of [...this.#calls.keys()]) this.ended(callId);
  }

  #learn(key: string, profile: BridgedProfile): void {
    this.#learned.delete(key);
    this.#learned.set(key, profile);
    if (this.#learned.size > MAX_LEARNED) this.#learned.delete(this.#learned.keys().next().value!);
  }

  async #forgetTimedOut(): Promise<void> {
    for (const call of [...this.#calls.values()]) {
      if (!call.answered) continue;
      if (!(await this.#o.bridge!.holds(call.callId))) this.#calls.delete(call.callId);
    }
  }
}

function hasSdp(m: SipMessage): boolean {
  return m.body.length > 0 && (m.get('content-type') ?? '').toLowerCase().startsWith('application/sdp');
}

/** A phone whose registered Contact names an address other than where its REGISTER came from. */
function targetNatted(b: Binding): boolean {
  let uri;
  try {
    uri = parseUri(b.contact);
  } catch {
    return false;
  }
  if (!(uri instanceof SipUri)) return false;
  const host = uri.host.replace(/^\[|\]$/g, '');
  return /^[\d.]+$|:/.test(host) && host !== b.sourceAddress;
}

const SPEAKS: Record<BridgedProfile, string> = {
  webrtc: 'WebRTC media (ICE, DTLS-SRTP)',
  rtp: 'plain RTP',
  'srtp-sdes': 'SRTP with SDES keys',
};

function noBridgeReason(offered: BridgedProfile, needed: BridgedProfile): string {
  return `The caller sends ${SPEAKS[offered]} and the callee needs ${SPEAKS[needed]}; this server has no media bridge to connect them (PARLEY_MEDIA_BRIDGE)`;
}
