/**
 * The browser phone: a JsSIP user agent registered over WebSocket, and at most one call at a
 * time. The UI only sees plain state objects (`PhoneState`, `CallState`) and a few commands.
 */
import * as JsSIP from 'jssip';
import type { IncomingDTMFEvent, OutgoingDTMFEvent, RTCSession } from 'jssip/lib/RTCSession';
import type { RTCSessionEvent } from 'jssip/lib/UA';
import type { IncomingRequest, IncomingResponse } from 'jssip/lib/SIPMessage';
import type { Profile } from '../api/apiClient';
import { openLocalMedia } from '../media/devices';
import { ringback, ringtone } from '../media/ringtone';
import { describeFailure } from './callErrors';
import { answerAsDtlsServer } from './dtlsRole';
import { Emitter } from '../util/emitter';

export type RegistrationState = 'connecting' | 'registered' | 'reconnecting' | 'failed' | 'stopped';

export type CallPhase = 'calling' | 'ringing' | 'incoming' | 'connecting' | 'active' | 'ended';

export interface CallState {
  id: string;
  direction: 'outgoing' | 'incoming';
  /** The other party's username. */
  peer: string;
  peerName: string;
  /** Whether this call carries (or offers) video. */
  video: boolean;
  phase: CallPhase;
  startedAt: number;
  answeredAt?: number;
  muted: boolean;
  cameraOff: boolean;
  onHold: boolean;
  remoteHold: boolean;
  /** Human-readable reason once ended. */
  endMessage?: string;
  /** A note for the user during the call (e.g. the camera could not be opened). */
  notice?: string;
  localStream?: MediaStream;
  remoteStream?: MediaStream;
  lastDtmf?: { tone: string; from: 'local' | 'remote'; at: number };
}

export interface PhoneEvents {
  registration: [RegistrationState, string | undefined];
  call: [CallState | null];
  /** The server refused our credentials: the session has expired. */
  authFailed: [];
}

const HOLD_MEDIA_KINDS = ['audio', 'video'] as const;

export class Phone extends Emitter<PhoneEvents> {
  #ua: JsSIP.UA | undefined;
  #session: RTCSession | undefined;
  #call: CallState | null = null;
  /** The operator's ICE servers (TURN with short-lived credentials) and whether only relays may be used. */
  #pcConfig: RTCConfiguration = { iceServers: [] };
  #domain = '';
  /** Tracks taken off the senders while on hold, put back on resume. */
  #heldTracks = new Map<RTCRtpSender, MediaStreamTrack | null>();
  registration: RegistrationState = 'stopped';

  get call(): CallState | null {
    return this.#call;
  }

  start(profile: Profile, iceServers: RTCIceServer[], iceTransportPolicy: RTCIceTransportPolicy = 'all'): void {
    this.stop();
    this.#pcConfig = { iceServers, iceTransportPolicy };
    this.#domain = profile.user.domain;
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${profile.sip.path}`;
    const socket = new JsSIP.WebSocketInterface(wsUrl);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: profile.sip.uri,
      authorization_user: profile.sip.authorizationUser,
      password: profile.sip.password,
      display_name: profile.user.displayName,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'Parley',
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 15,
    });
    ua.on('connecting', () => this.#setRegistration(this.registration === 'registered' ? 'reconnecting' : 'connecting'));
    ua.on('disconnected', () => this.#setRegistration('reconnecting', 'Lost the connection to the server; reconnecting…'));
    ua.on('registered', () => this.#setRegistration('registered'));
    ua.on('unregistered', () => {
      if (this.registration !== 'stopped') this.#setRegistration('connecting');
    });
    ua.on('registrationFailed', (e) => {
      const status = (e.response as IncomingResponse | undefined)?.status_code;
      if (status === 401 || status === 403 || e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR) {
        this.#setRegistration('failed', 'Your session has expired; sign in again.');
        this.emit('authFailed');
      } else {
        this.#setRegistration('reconnecting', `Registration failed (${e.cause ?? status}); retrying…`);
      }
    });
    ua.on('newRTCSession', (e: RTCSessionEvent) => {
      if (e.originator === 'remote') this.#onIncoming(e.session, e.request as IncomingRequest);
    });
    this.#ua = ua;
    this.#setRegistration('connecting');
    ua.start();
  }

  stop(): void {
    this.hangup();
    if (this.#ua) {
      const ua = this.#ua;
      this.#ua = undefined;
      this.registration = 'stopped';
      ua.removeAllListeners();
      ua.stop();
    }
  }

  /** `name`: the callee's display name, shown while calling (the user name when not given). */
  async placeCall(target: string, video: boolean, name?: string): Promise<void> {
    if (!this.#ua) throw new Error('The phone is not started');
    if (this.#call && this.#call.phase !== 'ended') throw new Error('You are already in a call');
    const peer = target.trim().replace(/^sip:/i, '').split('@')[0].toLowerCase();
    if (!peer) throw new Error('Type the name of the person to call');
    const call: CallState = {
      id: `${Date.now()}`,
      direction: 'outgoing',
      peer,
      peerName: name || peer,
      video,
      phase: 'calling',
      startedAt: Date.now(),
      muted: false,
      cameraOff: false,
      onHold: false,
      remoteHold: false,
    };
    this.#setCall(call);
    let media;
    try {
      media = await openLocalMedia(video);
    } catch (err) {
      this.#end(call, `Parley could not open your microphone: ${(err as Error).message}. Allow access and try again.`);
      return;
    }
    if (this.#call !== call) {
      media.stream.getTracks().forEach((t) => t.stop());
      return; // hung up while the devices were opening
    }
    const hasVideo = media.stream.getVideoTracks().length > 0;
    this.#update({ localStream: media.stream, video: hasVideo, notice: media.videoUnavailable && 'Your camera is not available: calling with audio only.' });
    const session = this.#ua.call(`sip:${peer}@${this.#domain}`, {
      mediaStream: media.stream,
      pcConfig: this.#pcConfig,
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: hasVideo },
    });
    this.#session = session;
    this.#wire(session, call);
  }

  async answer(video: boolean): Promise<void> {
    const session = this.#session;
    const call = this.#call;
    if (!session || !call || call.phase !== 'incoming') return;
    ringtone.stop();
    this.#update({ phase: 'connecting' });
    let media;
    try {
      media = await openLocalMedia(video && call.video);
    } catch (err) {
      session.terminate({ status_code: 480, reason_phrase: 'Media Unavailable' });
      this.#end(call, `Parley could not open your microphone: ${(err as Error).message}`);
      return;
    }
    if (this.#session !== session || session.isEnded()) {
      media.stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.#update({ localStream: media.stream, video: media.stream.getVideoTracks().length > 0 });
    session.answer({ mediaStream: media.stream, pcConfig: this.#pcConfig });
  }

  decline(): void {
    if (this.#session && this.#call?.phase === 'incoming') {
      this.#session.terminate({ status_code: 603, reason_phrase: 'Decline' });
    }
  }

  hangup(): void {
    const s = this.#session;
    if (s && !s.isEnded()) {
      try {
        s.terminate();
      } catch {
        // already terminating
      }
    }
  }

  toggleMute(): void {
    const s = this.#session;
    if (!s || !this.#call) return;
    if (this.#call.muted) s.unmute({ audio: true });
    else s.mute({ audio: true });
    this.#update({ muted: !this.#call.muted });
  }

  toggleCamera(): void {
    const s = this.#session;
    if (!s || !this.#call) return;
    if (this.#call.cameraOff) s.unmute({ video: true });
    else s.mute({ video: true });
    this.#update({ cameraOff: !this.#call.cameraOff });
  }

  async toggleHold(): Promise<void> {
    const s = this.#session;
    const call = this.#call;
    if (!s || !call || call.phase !== 'active') return;
    const pc = s.connection;
    if (!call.onHold) {
      // Stop sending altogether (not just black frames), then tell the other side.
      for (const sender of pc.getSenders()) {
        if (sender.track && HOLD_MEDIA_KINDS.includes(sender.track.kind as 'audio' | 'video')) {
          this.#heldTracks.set(sender, sender.track);
          await sender.replaceTrack(null);
        }
      }
      s.hold();
      this.#update({ onHold: true });
    } else {
      for (const [sender, track] of this.#heldTracks) await sender.replaceTrack(track);
      this.#heldTracks.clear();
      s.unhold();
      this.#update({ onHold: false });
    }
  }

  sendDtmf(tone: string): void {
    const s = this.#session;
    if (!s || this.#call?.phase !== 'active') return;
    s.sendDTMF(tone, { duration: 120, interToneGap: 70 });
    this.#update({ lastDtmf: { tone, from: 'local', at: Date.now() } });
  }

  /** Forgets a finished call (the UI dismissed its summary). */
  dismiss(): void {
    if (this.#call?.phase === 'ended') this.#setCall(null);
  }

  #onIncoming(session: RTCSession, request: IncomingRequest): void {
    if (this.#call && this.#call.phase !== 'ended') {
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    const identity = parseIdentity(request.getHeader('P-Asserted-Identity') ?? '') ?? {
      user: session.remote_identity.uri.user,
      name: session.remote_identity.display_name || session.remote_identity.uri.user,
    };
    const call: CallState = {
      id: `${Date.now()}`,
      direction: 'incoming',
      peer: identity.user,
      peerName: identity.name,
      video: /^m=video/m.test(request.body ?? ''),
      phase: 'incoming',
      startedAt: Date.now(),
      muted: false,
      cameraOff: false,
      onHold: false,
      remoteHold: false,
    };
    this.#session = session;
    this.#setCall(call);
    this.#wire(session, call);
    ringtone.start();
  }

  #wire(session: RTCSession, call: CallState): void {
    const attachPc = (pc: RTCPeerConnection) => {
      answerAsDtlsServer(pc);
      const remote = new MediaStream();
      pc.addEventListener('track', (ev) => {
        remote.addTrack(ev.track);
        if (this.#call === call) this.#update({ remoteStream: remote });
      });
    };
    if (session.connection) attachPc(session.connection);
    session.on('peerconnection', (e) => attachPc(e.peerconnection));
    session.on('progress', () => {
      if (call.direction === 'outgoing' && this.#call === call) {
        this.#update({ phase: 'ringing' });
        ringback.start();
      }
    });
    session.on('accepted', () => {
      ringback.stop();
      ringtone.stop();
      if (this.#call === call) this.#update({ phase: 'active', answeredAt: Date.now() });
    });
    session.on('confirmed', () => {
      if (this.#call === call && call.phase !== 'active') this.#update({ phase: 'active', answeredAt: call.answeredAt ?? Date.now() });
    });
    session.on('hold', (e) => {
      if (e.originator === 'remote') this.#update({ remoteHold: true });
    });
    session.on('unhold', (e) => {
      if (e.originator === 'remote') this.#update({ remoteHold: false });
    });
    session.on('newDTMF', (e: IncomingDTMFEvent | OutgoingDTMFEvent) => {
      if (e.originator === 'remote') this.#update({ lastDtmf: { tone: String(e.dtmf.tone), from: 'remote', at: Date.now() } });
    });
    session.on('ended', (e) => {
      const who = e.originator === 'local' ? 'You' : call.peerName;
      this.#end(call, `${who} ended the call`);
    });
    session.on('failed', (e) => {
      const response = e.originator === 'remote' ? (e.message as IncomingResponse | undefined) : undefined;
      const status = response?.status_code;
      let message = describeFailure(call.peerName, status, e.cause, call.direction, response?.getHeader?.('Warning'));
      if (e.originator === 'local' && call.direction === 'incoming') message = `You declined the call from ${call.peerName}`;
      if (e.originator === 'local' && call.direction === 'outgoing') message = 'Call cancelled';
      // RFC 3326 Reason on the CANCEL: another of our devices took the call.
      const reason = e.originator === 'remote' ? (e.message as IncomingRequest | undefined)?.getHeader?.('Reason') : undefined;
      if (reason && /cause=200\b/.test(reason)) message = 'Answered on another device';
      this.#end(call, message);
    });
  }

  #end(call: CallState, message: string): void {
    ringback.stop();
    ringtone.stop();
    call.localStream?.getTracks().forEach((t) => t.stop());
    this.#heldTracks.clear();
    if (this.#call === call) {
      this.#session = undefined;
      this.#update({ phase: 'ended', endMessage: message, localStream: undefined, remoteStream: undefined });
    }
  }

  #update(patch: Partial<CallState>): void {
    if (!this.#call) return;
    // Mutate and re-emit a copy: JsSIP handlers hold `call` by reference.
    Object.assign(this.#call, patch);
    this.emit('call', { ...this.#call });
  }

  #setCall(call: CallState | null): void {
    this.#call = call;
    this.emit('call', call && { ...call });
  }

  #setRegistration(state: RegistrationState, detail?: string): void {
    this.registration = state;
    this.emit('registration', state, detail);
  }
}

/** `"Alice Smith" <sip:alice@host>` → { user: 'alice', name: 'Alice Smith' }. */
export function parseIdentity(value: string): { user: string; name: string } | undefined {
  const m = /^\s*(?:"((?:[^"\\]|\\.)*)"|([^<]*?))\s*<sips?:([^@>;]+)@/.exec(value);
  if (!m) return undefined;
  const user = decodeURIComponent(m[3]);
  const name = (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1').trim() || user;
  return { user, name };
}
