/** Calls: dial by name, pick from the directory, and the call history. */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type CallLogEntry, type DirectoryUser } from '../api/apiClient';
import { CallLog } from './CallLog';

interface Props {
  onCall: (peer: string, video: boolean, name?: string) => Promise<void>;
  inCall: boolean;
  /** Changes whenever a call ends, to refresh the log. */
  refreshKey: number;
  dialError?: string;
}

export function CallsPanel({ onCall, inCall, refreshKey, dialError }: Props) {
  const [target, setTarget] = useState('');
  const [people, setPeople] = useState<DirectoryUser[]>([]);
  const [calls, setCalls] = useState<CallLogEntry[]>([]);

  const refreshPeople = useCallback(async (q: string) => {
    try {
      setPeople((await api.users(q)).users);
    } catch {
      // keep the last list; the status badge tells about connectivity
    }
  }, []);

  useEffect(() => {
    const t = window.setTimeout(() => void refreshPeople(target), 200);
    return () => window.clearTimeout(t);
  }, [target, refreshPeople, refreshKey]);

  useEffect(() => {
    api
      .calls()
      .then((r) => setCalls(r.calls))
      .catch(() => undefined);
  }, [refreshKey]);

  function submit(e: FormEvent) {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    void onCall(target, submitter?.value !== 'audio');
  }

  return (
    <div className="calls-panel">
      <section className="card dialer" aria-labelledby="dial-title">
        <h2 id="dial-title">Call someone</h2>
        <form onSubmit={submit} className="dial-form">
          <label className="sr-only" htmlFor="dial-input">
            Name to call
          </label>
          <input
            id="dial-input"
            className="dial-input"
            placeholder="Type a name, e.g. bob"
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            value={target}
            onChange={(e) => setTarget(e.target.value)}
            disabled={inCall}
          />
          <div className="dial-buttons">
            <button className="btn btn-primary" type="submit" value="video" disabled={!target.trim() || inCall}>
              Video call
            </button>
            <button className="btn" type="submit" value="audio" disabled={!target.trim() || inCall}>
              Audio call
            </button>
          </div>
        </form>
        {dialError && (
          <p className="error" role="alert">
            {dialError}
          </p>
        )}
        <h3 className="list-title">People</h3>
        {people.length === 0 ? (
          <p className="muted">{target ? `Nobody matches “${target}”.` : 'Nobody else has an account yet.'}</p>
        ) : (
          <ul className="people" aria-label="People you can call">
            {people.map((p) => (
              <li key={p.username} className="person">
                <span className={`presence-dot ${p.reachable ? 'show-available' : 'show-offline'}`} aria-hidden="true" />
                <span className="person-name">
                  {p.displayName}
                  <span className="muted"> {p.username !== p.displayName ? `(${p.username})` : ''}</span>
                  <span className="sr-only">{p.reachable ? ', online' : ', offline'}</span>
                </span>
                <span className="person-actions">
                  <button className="btn btn-small" onClick={() => void onCall(p.username, true, p.displayName)} disabled={inCall} aria-label={`Video call ${p.displayName}`}>
                    Video
                  </button>
                  <button className="btn btn-small" onClick={() => void onCall(p.username, false, p.displayName)} disabled={inCall} aria-label={`Audio call ${p.displayName}`}>
                    Audio
                  </button>
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="recent-title">
        <h2 id="recent-title">Recent calls</h2>
        <CallLog calls={calls} onCall={(peer, video, name) => void onCall(peer, video, name)} disabled={inCall} />
      </section>
    </div>
  );
}
