/** Who is in the meeting: raised hands first, then by name; roles and microphones at a glance. */
import type { MeetingState } from '../../meeting/meetingClient';
import { Icon } from '../Icon';
import { initials } from './VideoTile';

const ROLE_LABEL = { owner: 'Organiser', member: '', guest: 'Guest' } as const;

export function ParticipantsPanel({ state, onClose }: { state: MeetingState; onClose: () => void }) {
  const people = [
    ...(state.me ? [{ id: state.me.id, name: `${state.me.displayName} (you)`, role: state.me.role, hand: state.me.handRaised, muted: !state.mic.on }] : []),
    ...state.participants.map((p) => ({
      id: p.id,
      name: p.displayName,
      role: p.role,
      hand: p.handRaised,
      muted: !p.streams.mic || p.streams.mic.paused,
    })),
  ].sort((a, b) => Number(b.hand) - Number(a.hand) || a.name.localeCompare(b.name));
  return (
    <aside className="meeting-panel card" aria-labelledby="participants-title">
      <div className="meeting-panel-head">
        <h2 id="participants-title">Participants ({people.length})</h2>
        <button className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close the participant list">
          <Icon name="close" size={16} />
        </button>
      </div>
      <ul className="participant-list">
        {people.map((p) => (
          <li key={p.id} className="participant" data-testid="participant">
            <span className="avatar-small" aria-hidden="true">
              {initials(p.name)}
            </span>
            <span className="participant-name">
              {p.name}
              {ROLE_LABEL[p.role] && <span className="muted"> · {ROLE_LABEL[p.role]}</span>}
            </span>
            {p.hand && (
              <span className="tile-hand" role="img" title="Hand raised" aria-label="hand raised">
                <Icon name="hand" size={16} />
              </span>
            )}
            <span role="img" title={p.muted ? 'Muted' : 'Microphone on'} aria-label={p.muted ? 'muted' : 'microphone on'}>
              <Icon name={p.muted ? 'micOff' : 'mic'} size={16} />
            </span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
