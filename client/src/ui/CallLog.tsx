import type { CallLogEntry } from '../api/apiClient';
import { Icon } from './Icon';

function describe(c: CallLogEntry): string {
  if (c.direction === 'incoming') return c.missed ? 'Missed call' : c.outcome === 'declined' ? 'Incoming · declined' : 'Incoming call';
  switch (c.outcome) {
    case 'answered':
      return 'Outgoing call';
    case 'declined':
      return 'Outgoing · declined';
    case 'busy':
      return 'Outgoing · busy';
    case 'unreachable':
      return 'Outgoing · not reachable';
    case 'cancelled':
      return 'Outgoing · cancelled';
    case 'ringing':
      return 'Outgoing · ringing';
    default:
      return 'Outgoing · failed';
  }
}

function duration(s: number | undefined): string {
  if (s === undefined) return '';
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}

function when(ts: number): string {
  const d = new Date(ts);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

export function CallLog({ calls, onCall, disabled }: { calls: CallLogEntry[]; onCall: (peer: string, video: boolean, name?: string) => void; disabled: boolean }) {
  if (!calls.length) return <p className="muted">No calls yet. Calls you make and receive appear here.</p>;
  return (
    <ul className="call-log" aria-label="Recent calls" data-testid="call-log">
      {calls.map((c) => (
        <li key={c.callId} className={`call-entry ${c.missed ? 'missed' : ''}`} data-testid="call-entry">
          <span className="call-icon">
            <Icon name={c.direction === 'incoming' ? (c.missed ? 'missed' : 'incoming') : 'outgoing'} size={18} />
          </span>
          <span className="call-main">
            <strong>{c.peerName ?? c.peer}</strong>
            <span className="muted">
              {describe(c)}
              {c.video ? ' · video' : ''}
              {c.durationSeconds !== undefined ? ` · ${duration(c.durationSeconds)}` : ''}
            </span>
          </span>
          <span className="muted call-when">{when(c.startedAt)}</span>
          <button className="btn btn-small" onClick={() => onCall(c.peer, c.video, c.peerName)} disabled={disabled} aria-label={`Call ${c.peerName ?? c.peer} back`}>
            Call back
          </button>
        </li>
      ))}
    </ul>
  );
}
