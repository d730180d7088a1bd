/**
 * Inside a meeting: everyone's video (a grid, or the speaker large), screen shares large,
 * the controls (mute, camera, share screen, raise hand, participants, invite, leave) and a
 * "reconnecting" notice while the client rejoins by itself.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useMeetingState } from '../../hooks/useMeeting';
import type { MeetingClient, MeetingParticipant } from '../../meeting/meetingClient';
import { Icon } from '../Icon';
import { InviteDialog } from './InviteDialog';
import { ParticipantsPanel } from './ParticipantsPanel';
import { RemoteAudio } from './RemoteAudio';
import { VideoTile, type VideoTileProps } from './VideoTile';

interface Props {
  client: MeetingClient;
  onLeft: () => void;
}

type Layout = 'grid' | 'speaker';

interface Tile extends VideoTileProps {
  key: string;
  participantId: string;
  consumerId?: string;
}

export function MeetingRoom({ client, onLeft }: Props) {
  const state = useMeetingState(client);
  const [layout, setLayout] = useState<Layout>('grid');
  const [panel, setPanel] = useState<'participants' | undefined>();
  const [inviteOpen, setInviteOpen] = useState(false);
  const me = state.me;

  const leave = useCallback(async () => {
    await client.leave();
    onLeft();
  }, [client, onLeft]);

  // Keyboard: M toggles the microphone, V the camera (not while typing).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || target.closest('input, textarea, select')) return;
      if (e.key === 'm' || e.key === 'M') void client.setMic(!client.state.mic.on);
      if (e.key === 'v' || e.key === 'V') void client.setCamera(!client.state.camera.on);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [client]);

  const views = useMemo(() => new Map<string, (w: number, h: number, v: boolean) => void>(), []);
  const viewReporter = useCallback(
    (consumerId: string) => {
      let fn = views.get(consumerId);
      if (!fn) {
        fn = (w, h, v) => client.setView(consumerId, w, h, v);
        views.set(consumerId, fn);
      }
      return fn;
    },
    [client, views],
  );

  const cameraTiles: Tile[] = [];
  if (me) {
    cameraTiles.push({
      key: 'me',
      participantId: me.id,
      name: `${me.displayName} (you)`,
      track: state.camera.track,
      placeholder: !state.camera.on,
      mirrored: true,
      micMuted: !state.mic.on,
      handRaised: me.handRaised,
      speaking: state.activeSpeakerId === me.id,
    });
  }
  for (const p of state.participants) {
    const camera = p.streams.camera;
    cameraTiles.push({
      key: p.id,
      participantId: p.id,
      consumerId: camera?.consumerId,
      name: p.displayName,
      track: camera?.track,
      placeholder: !camera || camera.paused,
      micMuted: isMuted(p),
      handRaised: p.handRaised,
      speaking: state.activeSpeakerId === p.id,
      onView: camera ? viewReporter(camera.consumerId) : undefined,
    });
  }
  const screenTiles: Tile[] = [];
  if (me && state.screen.on && state.screen.track) {
    screenTiles.push({ key: 'me-screen', participantId: me.id, name: me.displayName, track: state.screen.track, screen: true });
  }
  for (const p of state.participants) {
    const screen = p.streams.screen;
    if (screen) {
      screenTiles.push({
        key: `${p.id}-screen`,
        participantId: p.id,
        consumerId: screen.consumerId,
        name: p.displayName,
        track: screen.track,
        screen: true,
        onView: viewReporter(screen.consumerId),
      });
    }
  }

  // A screen share takes the stage; else the speaker layout puts the active speaker large.
  let stage: Tile | undefined;
  let strip: Tile[] = cameraTiles;
  if (screenTiles.length) {
    stage = screenTiles.find((t) => t.participantId !== me?.id) ?? screenTiles[0];
    strip = [...cameraTiles, ...screenTiles.filter((t) => t !== stage)];
  } else if (layout === 'speaker' && cameraTiles.length > 1) {
    stage =
      cameraTiles.find((t) => t.speaking && t.key !== 'me') ?? cameraTiles.find((t) => t.key !== 'me') ?? cameraTiles[0];
    strip = cameraTiles.filter((t) => t !== stage);
  }

  const count = state.participants.length + (me ? 1 : 0);
  const columns = Math.ceil(Math.sqrt(cameraTiles.length || 1));
  const reconnecting = state.phase === 'reconnecting' || state.phase === 'joining';

  return (
    <div className="meeting" data-phase={state.phase}>
      <header className="meeting-bar">
        <div className="meeting-title">
          <strong>{state.conference?.title ?? 'Meeting'}</strong>
          <span className="muted hide-narrow"> · {count} {count === 1 ? 'person' : 'people'}</span>
        </div>
        <button className="btn btn-ghost btn-small" onClick={() => setInviteOpen(true)}>
          <Icon name="link" size={16} /> Invite
        </button>
      </header>

      {reconnecting && (
        <div className="meeting-banner" role="status" aria-live="polite" data-testid="reconnecting">
          <div className="spinner spinner-small" aria-hidden="true" />
          {state.phase === 'joining' ? 'Joining…' : 'Reconnecting…'}
          {state.message ? <span className="muted"> {state.message}</span> : null}
        </div>
      )}
      {state.phase === 'failed' && (
        <div className="meeting-banner meeting-banner-error" role="alert">
          {state.message ?? 'The meeting connection failed.'}
          <button className="btn btn-small" onClick={() => void leave()}>
            Leave
          </button>
        </div>
      )}

      <div className={`meeting-body ${panel ? 'with-panel' : ''}`}>
        <main className={`stage-area ${stage ? 'has-stage' : ''}`} aria-label="Meeting video">
          {stage ? (
            <>
              <div className="stage">
                <VideoTile {...withoutKey(stage)} large />
              </div>
              <div className="filmstrip" role="group" aria-label="Participants">
                {strip.map((t) => (
                  <VideoTile key={t.key} {...withoutKey(t)} />
                ))}
              </div>
            </>
          ) : (
            <div className="grid" style={{ gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))` }}>
              {cameraTiles.map((t) => (
                <VideoTile key={t.key} {...withoutKey(t)} />
              ))}
            </div>
          )}
        </main>
        {panel === 'participants' && <ParticipantsPanel state={state} onClose={() => setPanel(undefined)} />}
      </div>

      {state.participants.map((p) => p.streams.mic && !p.streams.mic.paused && <RemoteAudio key={p.streams.mic.consumerId} track={p.streams.mic.track} />)}

      <footer className="controls" aria-label="Meeting controls">
        <ControlButton
          on={state.mic.on}
          pressed={!state.mic.on}
          icon={state.mic.on ? 'mic' : 'micOff'}
          label="Mute (M)"
          title={state.mic.on ? 'Mute (M)' : 'Muted: unmute (M)'}
          onClick={() => void client.setMic(!state.mic.on)}
          problem={state.mic.unavailable}
          warnWhenOff
        />
        <ControlButton
          on={state.camera.on}
          pressed={!state.camera.on}
          icon={state.camera.on ? 'camera' : 'cameraOff'}
          label="Camera off (V)"
          title={state.camera.on ? 'Turn camera off (V)' : 'Camera is off: turn it on (V)'}
          onClick={() => void client.setCamera(!state.camera.on)}
          problem={state.camera.unavailable}
          warnWhenOff
        />
        {'getDisplayMedia' in (navigator.mediaDevices ?? {}) && (
          <ControlButton
            on={state.screen.on}
            icon="screen"
            label="Share screen"
            title={state.screen.on ? 'Stop sharing' : 'Share screen'}
            onClick={() => void client.setScreenShare(!state.screen.on)}
            highlight={state.screen.on}
            problem={state.screen.unavailable}
          />
        )}
        <ControlButton
          on={Boolean(me?.handRaised)}
          icon="hand"
          label="Raise hand"
          title={me?.handRaised ? 'Lower hand' : 'Raise hand'}
          onClick={() => void client.raiseHand(!me?.handRaised)}
          highlight={Boolean(me?.handRaised)}
        />
        <ControlButton
          on={panel === 'participants'}
          icon="people"
          label="Participants"
          onClick={() => setPanel(panel === 'participants' ? undefined : 'participants')}
          highlight={panel === 'participants'}
          badge={state.participants.filter((p) => p.handRaised).length || undefined}
        />
        <ControlButton
          on={layout === 'speaker'}
          icon={layout === 'grid' ? 'speaker' : 'grid'}
          label="Speaker view"
          title={layout === 'grid' ? 'Speaker view' : 'Back to the grid'}
          onClick={() => setLayout(layout === 'grid' ? 'speaker' : 'grid')}
        />
        <button className="btn btn-danger control-leave" onClick={() => void leave()} aria-label="Leave the meeting">
          <Icon name="hangup" /> <span className="hide-narrow">Leave</span>
        </button>
      </footer>
      {inviteOpen && <InviteDialog client={client} onClose={() => setInviteOpen(false)} />}
    </div>
  );
}

function withoutKey({ key: _key, participantId: _p, consumerId: _c, ...props }: Tile): VideoTileProps {
  return props;
}

function isMuted(p: MeetingParticipant): boolean {
  return !p.streams.mic || p.streams.mic.paused;
}

function ControlButton({
  on,
  icon,
  label,
  onClick,
  highlight,
  problem,
  badge,
  warnWhenOff,
  pressed = on,
  title,
}: {
  on: boolean;
  /**
   * What aria-pressed reports: the state the (fixed) label names — "Mute" is pressed when
   * muted, i.e. when the microphone is not on. Defaults to `on`.
   */
  pressed?: boolean;
  /** The tooltip, which may say the current state in words (the label does not change). */
  title?: string;
  /** Off is worth noticing (muted microphone, camera off): shown red. */
  warnWhenOff?: boolean;
  icon: Parameters<typeof Icon>[0]['name'];
  label: string;
  onClick: () => void;
  highlight?: boolean;
  problem?: string;
  badge?: number;
}) {
  return (
    <button
      className={`btn round control ${!on && warnWhenOff ? 'btn-off' : ''} ${highlight ? 'control-active' : ''}`}
      aria-pressed={pressed}
      aria-label={label}
      title={problem ?? title ?? label}
      onClick={onClick}
    >
      <Icon name={icon} />
      {badge ? <span className="badge-count control-badge">{badge}</span> : null}
      {problem && <span className="control-problem" aria-hidden="true">!</span>}
    </button>
  );
}
