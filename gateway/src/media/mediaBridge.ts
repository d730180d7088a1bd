/**
 * The media bridge: rtpengine stands between two legs of a call that speak different media
 * profiles — a browser (ICE, DTLS-SRTP, AVPF, rtcp-mux) and a phone (plain RTP/AVP, or
 * RTP/SAVP keyed with SDES) — or when a phone's media must be anchored because it sits behind
 * NAT. The proxy hands each offer and answer through here; rtpengine rewrites the description
 * so each side gets what it speaks, and transcodes when they share no codec.
 */
import type { Logger } from '../../../server-common/logger.js';
import type { MediaProfile } from '../sip/sdp/sessionDescription.js';
import { NgClient, type NgDictionary } from './rtpengine/ngClient.js';

/** A profile a bridge can produce. */
export type BridgedProfile = Exclude<MediaProfile, 'other'>;

export interface MediaBridgeOptions {
  /** rtpengine's ng control address: `udp:host:port` (or `host:port`). */
  url: string;
  logger: Logger;
  /** How many times a command is sent before rtpengine counts as not answering (3), and how long each waits (500 ms). */
  tries?: number;
  retryMs?: number;
}

/** One side's description going through the bridge. */
export interface BridgeSdp {
  callId: string;
  fromTag: string;
  /** The answerer's tag (answers only). */
  toTag?: string;
  /** The proxy's branch towards one forked target, so each fork gets its own media ports. */
  viaBranch?: string;
  sdp: string;
  /** What the side receiving the rewritten description speaks. */
  to: BridgedProfile;
  /** Where the sender's signalling came from, when its media is to be anchored there (NAT). */
  sourceAddress?: string;
}

/** The call's record in rtpengine is gone or was never made: nothing to do. */
const NOT_FOUND = /unknown call-id|call-id not found|not found/i;

/** Codecs added to an offer so that rtpengine can transcode when the answerer has none of the originals. */
const TRANSCODE_FOR: Record<BridgedProfile, string[]> = {
  webrtc: ['opus', 'PCMU'],
  'srtp-sdes': ['PCMU', 'PCMA', 'G722'],
  rtp: ['PCMU', 'PCMA', 'G722'],
};

/**
 * SDES suites offered to phones: the two of RFC 4568 every SRTP phone has. rtpengine would
 * offer twelve, AEAD-GCM first, and baresip 1.0 took the first and then failed to decrypt.
 */
const SDES_SUITES_LEFT_OUT = [
  'AEAD_AES_256_GCM',
  'AEAD_AES_128_GCM',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_32',
  'F8_128_HMAC_SHA1_80',
  'F8_128_HMAC_SHA1_32',
  'NULL_HMAC_SHA1_80',
  'NULL_HMAC_SHA1_32',
];

export class MediaBridge {
  readonly #client: NgClient;
  readonly #log: Logger;

  constructor(options: MediaBridgeOptions) {
    const m = /^(?:udp:)?(\[[^\]]+\]|[^:]+):(\d+)$/.exec(options.url.trim());
    if (!m) throw new Error(`PARLEY_MEDIA_BRIDGE must look like udp:127.0.0.1:22222, not '${options.url}'`);
    this.#client = new NgClient({ host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), tries: options.tries, retryMs: options.retryMs });
    this.#log = options.logger;
  }

  get address(): string {
    return this.#client.address;
  }

  /** Whether rtpengine answers. */
  async ping(): Promise<boolean> {
    try {
      return (await this.#client.request('ping')).result === 'pong';
    } catch {
      return false;
    }
  }

  /** Runs an offer through rtpengine; resolves with the description for the receiving side. */
  async offer(o: BridgeSdp): Promise<string> {
    const reply = await this.#client.request('offer', {
      ...this.#common(o),
      codec: { transcode: TRANSCODE_FOR[o.to] },
    });
    return String(reply.sdp);
  }

  /** Runs an answer through rtpengine; resolves with the description for the offerer. */
  async answer(a: BridgeSdp): Promise<string> {
    const reply = await this.#client.request('answer', { ...this.#common(a), 'to-tag': a.toTag ?? '' });
    return String(reply.sdp);
  }

  /** Ends a call's media in rtpengine (all of its forks); a call it does not know is fine. */
  async delete(callId: string): Promise<void> {
    try {
      await this.#client.request('delete', { 'call-id': callId });
    } catch (err) {
      if (NOT_FOUND.test((err as Error).message)) return;
      this.#log.warn({ callId, err: (err as Error).message }, 'media bridge: delete failed');
    }
  }

  /** Whether rtpengine still holds media for a call (it deletes calls whose media stopped). */
  async holds(callId: string): Promise<boolean> {
    try {
      await this.#client.request('query', { 'call-id': callId });
      return true;
    } catch (err) {
      if (NOT_FOUND.test((err as Error).message)) return false;
      return true; // unreachable: assume it is still there, ask again later
    }
  }

  close(): void {
    this.#client.close();
  }

  #common(o: BridgeSdp): NgDictionary {
    const webrtc = o.to === 'webrtc';
    const params: NgDictionary = {
      'call-id': o.callId,
      'from-tag': o.fromTag,
      sdp: o.sdp,
      'transport-protocol': webrtc ? 'UDP/TLS/RTP/SAVPF' : o.to === 'srtp-sdes' ? 'RTP/SAVP' : 'RTP/AVP',
      ICE: webrtc ? 'force' : 'remove',
      'rtcp-mux': webrtc ? ['require'] : ['demux'],
      replace: ['origin', 'session-connection'],
      flags: webrtc ? ['generate-mid', 'SDES-off'] : o.to === 'rtp' ? ['SDES-off'] : [],
    };
    if (!webrtc) params.DTLS = 'off';
    if (o.to === 'srtp-sdes') params.SDES = SDES_SUITES_LEFT_OUT.map((suite) => `no-${suite}`);
    if (o.viaBranch) params['via-branch'] = o.viaBranch;
    if (o.sourceAddress) {
      params['received-from'] = [o.sourceAddress.includes(':') ? 'IP6' : 'IP4', o.sourceAddress];
      (params.flags as string[]).push('SIP-source-address');
    }
    return params;
  }
}
