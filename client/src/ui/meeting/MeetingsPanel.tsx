/** The Meetings tab: start a meeting, join one by name or link, and the meetings you started. */
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, type ConferenceSummary } from '../../api/apiClient';
import { meetingNameOf, navigate } from '../../navigation';
import { Icon } from '../Icon';

export function MeetingsPanel() {
  const [mine, setMine] = useState<ConferenceSummary[]>();
  const [target, setTarget] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api
      .myConferences()
      .then((r) => setMine(r.conferences))
      .catch(() => setMine([]));
  }, []);

  async function start() {
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.newConference();
      navigate(`/meet/${created.name}`);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not start a meeting. Try again.');
      setBusy(false);
    }
  }

  function join(e: FormEvent) {
    e.preventDefault();
    const text = target.trim();
    let name: string | undefined;
    try {
      name = meetingNameOf(new URL(text).pathname);
    } catch {
      name = meetingNameOf(`/meet/${text.toLowerCase()}`);
    }
    if (!name) {
      setError('Type a meeting name (letters, digits and dashes) or paste a meeting link.');
      return;
    }
    navigate(`/meet/${name}`);
  }

  return (
    <section className="meetings-panel" aria-labelledby="meetings-title">
      <h2 id="meetings-title" className="sr-only">
        Meetings
      </h2>
      <button className="btn btn-primary btn-large" onClick={() => void start()} disabled={busy} data-testid="new-meeting">
        <Icon name="video" /> {busy ? 'Starting…' : 'New meeting'}
      </button>
      <form className="dial-form" onSubmit={join}>
        <label className="sr-only" htmlFor="meeting-target">
          Meeting name or link
        </label>
        <input
          id="meeting-target"
          className="dial-input"
          placeholder="Meeting name or link"
          value={target}
          onChange={(e) => setTarget(e.target.value)}
          autoCapitalize="none"
          spellCheck={false}
        />
        <button className="btn" type="submit" disabled={!target.trim()}>
          Join
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h3 className="list-title">Meetings you started</h3>
      {mine === undefined ? (
        <p className="muted">Loading…</p>
      ) : mine.length === 0 ? (
        <p className="muted">None yet. Start one and share its link: everyone with the link and a Parley account can join.</p>
      ) : (
        <ul className="call-log">
          {mine.map((m) => (
            <li key={m.name} className="call-entry">
              <div className="call-main">
                <span className="person-name">{m.title}</span>
                <span className="muted mono">{m.name}</span>
              </div>
              <button className="btn btn-small" onClick={() => navigate(`/meet/${m.name}`)}>
                Join
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
