/** The call in progress: video, who and how long, and the in-call controls. */
import { useEffect, useRef, useState } from 'react';
import type { CallState, Phone } from '../sip/phone';
import { Icon } from './Icon';
import { VideoView } from './MediaView';
import { useDialog } from './useDialog';

const KEYPAD = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

function useElapsed(since: number | undefined): string {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!since) return;
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [since]);
  if (!since) return '';
  const s = Math.max(0, Math.floor((now - since) / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function statusText(call: CallState, elapsed: string): string {
  switch (call.phase) {
    case 'calling':
      return 'Calling…';
    case 'ringing':
      return 'Ringing…';
    case 'connecting':
      return 'Connecting…';
    case 'active':
      if (call.onHold) return `On hold · ${elapsed}`;
      return elapsed;
    case 'ended':
      return call.endMessage ?? 'Call ended';
    default:
      return '';
  }
}

const stayOpen = () => {};

export function CallScreen({ call, phone }: { call: CallState; phone: Phone }) {
  const [keypad, setKeypad] = useState(false);
  const screen = useRef<HTMLDivElement>(null);
  // Modal: focus on its first usable button (Cancel or Hang up), Tab stays in it; Escape does not hang up.
  useDialog(screen, stayOpen, '.call-controls button', false);
  const elapsed = useElapsed(call.answeredAt);
  const active = call.phase === 'active';
  const hasRemoteVideo = Boolean(call.remoteStream?.getVideoTracks().length);

  useEffect(() => {
    if (!keypad || !active) return;
    const onKey = (e: KeyboardEvent) => {
      if (KEYPAD.includes(e.key)) phone.sendDtmf(e.key);
      if (e.key === 'Escape') setKeypad(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [keypad, active, phone]);

  return (
    <div ref={screen} className="call-screen" role="dialog" aria-modal="true" aria-label={`Call with ${call.peerName}`} data-testid="call-screen" data-phase={call.phase}>
      <div className="call-stage">
        {hasRemoteVideo ? (
          <VideoView stream={call.remoteStream} className={`remote-video ${call.onHold || call.remoteHold ? 'is-held' : ''}`} label={`${call.peerName}'s video`} />
        ) : (
          <div className="avatar-large" aria-hidden="true">
            {call.peerName.slice(0, 1).toUpperCase()}
          </div>
        )}
        {!hasRemoteVideo && call.remoteStream && <VideoView stream={call.remoteStream} className="hidden-media" label={`${call.peerName}'s audio`} />}
        {call.localStream && call.localStream.getVideoTracks().length > 0 && (
          <VideoView stream={call.localStream} muted className={`local-video ${call.cameraOff ? 'is-off' : ''}`} label="Your camera" />
        )}
        <div className="call-info">
          <h2 className="call-peer">{call.peerName}</h2>
          <p className="call-status" data-testid="call-status">
            {statusText(call, elapsed)}
          </p>
          {call.remoteHold && (
            <p className="pill pill-warn" role="status" data-testid="remote-hold">
              {call.peerName} put you on hold
            </p>
          )}
          {call.notice && <p className="pill">{call.notice}</p>}
          {call.lastDtmf && Date.now() - call.lastDtmf.at < 4000 && (
            <p className="pill" data-testid="dtmf">
              {call.lastDtmf.from === 'remote' ? `${call.peerName} pressed ${call.lastDtmf.tone}` : `Sent ${call.lastDtmf.tone}`}
            </p>
          )}
        </div>
      </div>

      {keypad && active && (
        <div className="keypad" role="group" aria-label="Keypad (DTMF)">
          {KEYPAD.map((k) => (
            <button key={k} className="key" onClick={() => phone.sendDtmf(k)} aria-label={`Key ${k}`}>
              {k}
            </button>
          ))}
        </div>
      )}

      {/* Toggles keep their name and report their state with aria-pressed ("Mute", pressed = muted). */}
      <div className="call-controls" role="toolbar" aria-label="Call controls">
        <button className={`ctl ${call.muted ? 'ctl-on' : ''}`} onClick={() => phone.toggleMute()} disabled={!active} aria-pressed={call.muted}>
          <Icon name={call.muted ? 'micOff' : 'mic'} />
          Mute
        </button>
        {call.video && (
          <button className={`ctl ${call.cameraOff ? 'ctl-on' : ''}`} onClick={() => phone.toggleCamera()} disabled={!active} aria-pressed={call.cameraOff}>
            <Icon name={call.cameraOff ? 'cameraOff' : 'camera'} />
            Camera off
          </button>
        )}
        {/* Hold and Resume are two actions (the name changes, so no aria-pressed). */}
        <button className={`ctl ${call.onHold ? 'ctl-on' : ''}`} onClick={() => void phone.toggleHold()} disabled={!active}>
          <Icon name={call.onHold ? 'play' : 'pause'} />
          {call.onHold ? 'Resume' : 'Hold'}
        </button>
        <button className={`ctl ${keypad ? 'ctl-on' : ''}`} onClick={() => setKeypad(!keypad)} disabled={!active} aria-pressed={keypad}>
          <Icon name="keypad" />
          Keypad
        </button>
        <button className="ctl ctl-hangup" onClick={() => phone.hangup()} disabled={call.phase === 'ended'}>
          <Icon name="hangup" />
          {call.phase === 'active' ? 'Hang up' : 'Cancel'}
        </button>
      </div>
    </div>
  );
}
