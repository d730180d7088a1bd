/**
 * Parley inside another site's page (/embed/meeting|call|chat, framed by widget.js): a compact
 * UI that fits its box, follows the host page's theme, and reports to / obeys the host page
 * through the embed bridge.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { WidgetType } from '../../../contracts/embed/embedProtocol';
import { MEETING_NAME_RULE, toMeetingName } from '../../../contracts/meetings/meetingName';
import { isGroupChatJid } from '../../../contracts/xmpp/serviceAddresses';
import { api, type Profile } from '../api/apiClient';
import { usePhoneState } from '../hooks/usePhone';
import { useChatState } from '../hooks/useChat';
import { MeetingClient, type MeetingState } from '../meeting/meetingClient';
import { Phone, type CallState } from '../sip/phone';
import { CallScreen } from '../ui/CallScreen';
import { ChatPane } from '../ui/chat/ChatPane';
import { IncomingCall } from '../ui/IncomingCall';
import { LoginScreen } from '../ui/LoginScreen';
import { MeetingPage } from '../ui/meeting/MeetingPage';
import { ChatClient } from '../xmpp/chatClient';
import { EmbedBridge } from './embedBridge';

/** The widget type in /embed/<type>, if the path is an embed page. */
export function embedTypeOf(pathname: string): WidgetType | undefined {
  const m = /^\/embed\/(meeting|call|chat)\/?$/.exec(pathname);
  return m ? (m[1] as WidgetType) : undefined;
}

export function EmbedApp({ type, search }: { type: WidgetType; search: string }) {
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const bridge = useMemo(() => new EmbedBridge(), []);
  const [theme, setTheme] = useState(params.get('theme') === 'dark' ? 'dark' : 'light');

  useEffect(() => bridge.on('setTheme', ({ theme: t }) => setTheme(t)), [bridge]);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    document.documentElement.classList.add('embedded');
  }, [theme]);
  useEffect(() => () => bridge.close(), [bridge]);

  if (!bridge.hostOrigin) {
    return (
      <div className="center-screen">
        <p className="card narrow-card">This page is meant to be embedded in another site with Parley’s widget.js.</p>
      </div>
    );
  }
  if (type === 'meeting') return <EmbedMeeting bridge={bridge} params={params} />;
  return <SignedInWidget bridge={bridge} type={type} params={params} />;
}

// ---- meeting ----

function EmbedMeeting({ bridge, params }: { bridge: EmbedBridge; params: URLSearchParams }) {
  const room = (params.get('room') ?? '').toLowerCase();
  const client = useMemo(() => new MeetingClient(), []);
  const [displayName, setDisplayName] = useState(params.get('name') ?? undefined);
  // Without pre-join the widget joins at once; with it, the person clicks Join or the host page sends `join`.
  const [joinNow, setJoinNow] = useState(params.get('prejoin') === '0');
  const access = useMemo(
    () => ({ guestToken: params.get('guest') ?? undefined, embedKey: params.get('key') ?? undefined, embedOrigin: bridge.hostOrigin }),
    [params, bridge],
  );

  useEffect(() => {
    const offs = [
      bridge.on('join', () => {
        if (client.state.phase === 'idle' || client.state.phase === 'left') setJoinNow(true);
      }),
      bridge.on('toggleAudio', () => void client.setMic(!client.state.mic.on)),
      bridge.on('toggleVideo', () => void client.setCamera(!client.state.camera.on)),
      bridge.on('shareScreen', () => void client.setScreenShare(!client.state.screen.on)),
      bridge.on('leave', () => void client.leave()),
      bridge.on('hangup', () => void client.leave()),
      bridge.on('setDisplayName', ({ displayName: n }) => setDisplayName(n.trim().slice(0, 64) || undefined)),
      bridge.on('sendMessage', () => bridge.send('error', { code: 'unsupported', message: 'A meeting widget has no chat; use a chat widget.' })),
      reportMeeting(client, bridge),
    ];
    // Commands are handled from here on; `ready` also tells the host page whether a Parley user is signed in.
    let cancelled = false;
    api.me().then(
      () => !cancelled && bridge.send('ready', { type: 'meeting', signedIn: true }),
      () => !cancelled && bridge.send('ready', { type: 'meeting', signedIn: false }),
    );
    return () => {
      cancelled = true;
      offs.forEach((off) => off());
    };
  }, [bridge, client]);

  if (!toMeetingName(room)) {
    bridge.send('error', { code: 'invalid_room', message: `options.room: ${MEETING_NAME_RULE}` });
    return <p className="center-screen">This widget needs a meeting name.</p>;
  }
  return (
    <MeetingPage
      name={room}
      access={access}
      client={client}
      presetName={displayName}
      autoJoin={joinNow}
      onStep={(step) => {
        if (step.kind === 'problem') bridge.send('error', { code: 'cannot_join', message: step.message });
        if (step.kind === 'prejoin' && step.error) bridge.send('error', { code: 'cannot_join', message: step.error });
      }}
    />
  );
}

/** Turns meeting state changes into host-page events; returns the unsubscribe. */
function reportMeeting(client: MeetingClient, bridge: EmbedBridge): () => void {
  let previous: MeetingState = client.state;
  let joined = false;
  return client.on('state', (s) => {
    if (s.phase === 'joined' && !joined && s.me) {
      joined = true;
      bridge.send('joined', { participant: { id: s.me.id, displayName: s.me.displayName } });
    }
    if (joined && (s.phase === 'left' || s.phase === 'failed')) {
      joined = false;
      bridge.send('left', { reason: s.phase === 'failed' ? (s.message ?? 'failed') : 'left' });
    }
    const before = new Map(previous.participants.map((p) => [p.id, p]));
    const now = new Map(s.participants.map((p) => [p.id, p]));
    // While rejoining the list empties and refills: those are not people leaving.
    if (s.phase === 'joined' && previous.phase === 'joined') {
      for (const [id, p] of now) if (!before.has(id)) bridge.send('participantJoined', { id, displayName: p.displayName });
      for (const [id, p] of before) if (!now.has(id)) bridge.send('participantLeft', { id, displayName: p.displayName });
    } else if (s.phase === 'joined') {
      for (const [id, p] of now) bridge.send('participantJoined', { id, displayName: p.displayName });
    }
    if (s.activeSpeakerId !== previous.activeSpeakerId) bridge.send('activeSpeakerChanged', { participantId: s.activeSpeakerId });
    if (s.mic.on !== previous.mic.on) bridge.send('audioMuted', { muted: !s.mic.on });
    if (s.camera.on !== previous.camera.on) bridge.send('videoMuted', { muted: !s.camera.on });
    previous = s;
  });
}

// ---- click-to-call and chat: for signed-in Parley users ----

function SignedInWidget({ bridge, type, params }: { bridge: EmbedBridge; type: 'call' | 'chat'; params: URLSearchParams }) {
  const [profile, setProfile] = useState<Profile | null | undefined>(undefined);
  useEffect(() => {
    api.me().then(setProfile, () => setProfile(null));
  }, []);
  // Ready once, when it is known whether someone is signed in (signing in later does not repeat it).
  const announced = useRef(false);
  useEffect(() => {
    if (profile === undefined || announced.current) return;
    announced.current = true;
    bridge.send('ready', { type, signedIn: profile !== null });
  }, [profile, bridge, type]);

  if (profile === undefined) return <div className="center-screen" role="status"><div className="spinner" aria-hidden="true" /></div>;
  if (profile === null) {
    return <LoginScreen notice="Sign in with your Parley account to use this." onSignedIn={setProfile} />;
  }
  return type === 'call' ? <EmbedCall bridge={bridge} profile={profile} to={params.get('to') ?? ''} /> : <EmbedChat bridge={bridge} profile={profile} peer={params.get('with') ?? ''} />;
}

const CALL_STATE: Record<CallState['phase'], 'calling' | 'ringing' | 'active' | 'ended'> = {
  calling: 'calling',
  connecting: 'calling',
  ringing: 'ringing',
  incoming: 'ringing',
  active: 'active',
  ended: 'ended',
};

function EmbedCall({ bridge, profile, to }: { bridge: EmbedBridge; profile: Profile; to: string }) {
  const phone = useMemo(() => new Phone(), []);
  const { registration, call } = usePhoneState(phone);
  const target = to.trim().replace(/^sip:/, '').split('@')[0];

  useEffect(() => {
    let stopped = false;
    api
      .iceServers()
      .catch(() => ({ iceServers: [], iceTransportPolicy: undefined }))
      .then(({ iceServers, iceTransportPolicy }) => !stopped && phone.start(profile, iceServers, iceTransportPolicy));
    return () => {
      stopped = true;
      phone.stop();
    };
  }, [phone, profile]);

  useEffect(() => {
    const offs = [
      bridge.on('join', () => void phone.placeCall(target, true)),
      bridge.on('hangup', () => phone.hangup()),
      bridge.on('leave', () => phone.hangup()),
      bridge.on('toggleAudio', () => phone.toggleMute()),
      bridge.on('toggleVideo', () => phone.toggleCamera()),
    ];
    return () => offs.forEach((off) => off());
  }, [bridge, phone, target]);

  const lastReported = useRef('');
  useEffect(() => {
    const state = !call ? 'idle' : call.onHold || call.remoteHold ? 'held' : CALL_STATE[call.phase];
    const key = `${call?.id ?? ''}:${state}`;
    if (key === lastReported.current) return;
    lastReported.current = key;
    bridge.send('callState', { state, peer: call?.peer, reason: call?.phase === 'ended' ? call.endMessage : undefined });
    if (call?.phase === 'ended') {
      const t = setTimeout(() => phone.dismiss(), 2500);
      return () => clearTimeout(t);
    }
  }, [call, bridge, phone]);

  if (call?.phase === 'incoming') return <IncomingCall call={call} phone={phone} />;
  if (call && call.phase !== 'ended') return <CallScreen call={call} phone={phone} />;
  const ready = registration === 'registered' && Boolean(target);
  return (
    <div className="center-screen embed-call">
      <div className="card narrow-card">
        <p className="muted small">{profile.user.displayName}</p>
        {call?.phase === 'ended' && <p role="status">{call.endMessage}</p>}
        <div className="modal-actions">
          <button className="btn btn-primary" disabled={!ready} onClick={() => void phone.placeCall(target, true)}>
            Video call {target || '…'}
          </button>
          <button className="btn" disabled={!ready} onClick={() => void phone.placeCall(target, false)}>
            Audio call
          </button>
        </div>
        {!target && <p className="muted small">This button has nobody to call (options.to is missing).</p>}
        {target && registration !== 'registered' && <p className="muted small">Connecting…</p>}
      </div>
    </div>
  );
}

function EmbedChat({ bridge, profile, peer }: { bridge: EmbedBridge; profile: Profile; peer: string }) {
  const chat = useMemo(() => new ChatClient(), []);
  const state = useChatState(chat);
  const jid = peer.includes('@') ? peer.toLowerCase() : `${peer.toLowerCase()}@${profile.user.domain}`;
  const isRoom = isGroupChatJid(jid);

  useEffect(() => {
    chat.start(profile);
    return () => chat.stop();
  }, [chat, profile]);

  useEffect(() => {
    if (state.status !== 'online') return;
    if (isRoom) chat.joinRoom(jid);
    chat.openConversation(jid);
  }, [state.status, chat, jid, isRoom]);

  useEffect(() => {
    const offs = [
      bridge.on('sendMessage', ({ text }) => chat.sendMessage(jid, text)),
      chat.on('incoming', (conversation, m) => {
        if (conversation === jid) bridge.send('messageReceived', { from: m.from, text: m.body, at: m.stamp });
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [bridge, chat, jid]);

  if (!peer) return <p className="center-screen">This chat widget has nobody to chat with (options.with is missing).</p>;
  if (state.status !== 'online' && !state.conversations[jid]) {
    return (
      <div className="center-screen" role="status">
        <div className="spinner" aria-hidden="true" />
        <p>Connecting…</p>
      </div>
    );
  }
  return (
    <div className="embed-chat">
      <ChatPane chat={chat} state={state} jid={jid} onBack={() => undefined} onCall={() => undefined} callDisabled />
    </div>
  );
}
