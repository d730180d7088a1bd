/** The signed-in home: who to call, recent calls, and the call in progress on top. */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, type CallLogEntry, type DirectoryUser, type Profile } from '../api/apiClient';
import { usePhoneState } from '../hooks/usePhone';
import type { Phone } from '../sip/phone';
import { CallLog } from './CallLog';
import { CallScreen } from './CallScreen';
import { Icon } from './Icon';
import { IncomingCall } from './IncomingCall';
import { RegistrationBadge } from './RegistrationBadge';
import { SettingsDialog } from './SettingsDialog';

interface Props {
  profile: Profile;
  phone: Phone;
  onSignOut: () => void;
}

export function HomeScreen({ profile, phone, onSignOut }: Props) {
  const { registration, detail, call } = usePhoneState(phone);
  const [target, setTarget] = useState('');
  const [people, setPeople] = useState<DirectoryUser[]>([]);
  const [calls, setCalls] = useState<CallLogEntry[]>([]);
  const [toast, setToast] = useState<string | undefined>();
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [dialError, setDialError] = useState<string | undefined>();
  const toastTimer = useRef<number | undefined>(undefined);

  const refreshPeople = useCallback(async (q: string) => {
    try {
      setPeople((await api.users(q)).users);
    } catch {
      // keep the last list; the status badge tells about connectivity
    }
  }, []);
  const refreshCalls = useCallback(async () => {
    try {
      setCalls((await api.calls()).calls);
    } catch {
      // as above
    }
  }, []);

  useEffect(() => {
    const t = window.setTimeout(() => void refreshPeople(target), 200);
    return () => window.clearTimeout(t);
  }, [target, refreshPeople]);

  useEffect(() => {
    void refreshCalls();
    const t = window.setInterval(() => {
      void refreshPeople(target);
    }, 20_000);
    return () => window.clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the poll keeps its own query fresh enough
  }, [refreshCalls, refreshPeople]);

  // When a call ends: show why, refresh the log, and clear the call a moment later.
  useEffect(() => {
    if (call?.phase !== 'ended') return;
    setToast(call.endMessage);
    void refreshCalls();
    void refreshPeople(target);
    window.clearTimeout(toastTimer.current);
    toastTimer.current = window.setTimeout(() => setToast(undefined), 6000);
    const t = window.setTimeout(() => phone.dismiss(), 1500);
    return () => window.clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- react only to the end of a call
  }, [call?.phase, call?.id]);

  async function dial(peer: string, video: boolean) {
    setDialError(undefined);
    try {
      await phone.placeCall(peer, video);
    } catch (err) {
      setDialError((err as Error).message);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    void dial(target, submitter?.value !== 'audio');
  }

  const inCall = call && call.phase !== 'ended';
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          Parley
        </div>
        <RegistrationBadge state={registration} detail={detail} />
        <div className="topbar-actions">
          <span className="me" title={profile.sip.uri}>
            {profile.user.displayName}
          </span>
          <button className="btn btn-ghost" onClick={() => setSettingsOpen(true)} aria-label="Settings: microphone, camera, speaker">
            <Icon name="settings" size={18} />
            <span className="hide-narrow"> Settings</span>
          </button>
          <button className="btn btn-ghost" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>

      <main className="home">
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
              disabled={Boolean(inCall)}
            />
            <div className="dial-buttons">
              <button className="btn btn-primary" type="submit" value="video" disabled={!target.trim() || Boolean(inCall)}>
                Video call
              </button>
              <button className="btn" type="submit" value="audio" disabled={!target.trim() || Boolean(inCall)}>
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
                  <span className={`presence-dot ${p.reachable ? 'online' : 'offline'}`} aria-hidden="true" />
                  <span className="person-name">
                    {p.displayName}
                    <span className="muted"> {p.username !== p.displayName ? `(${p.username})` : ''}</span>
                    <span className="sr-only">{p.reachable ? ', online' : ', offline'}</span>
                  </span>
                  <span className="person-actions">
                    <button className="btn btn-small" onClick={() => void dial(p.username, true)} disabled={Boolean(inCall)} aria-label={`Video call ${p.displayName}`}>
                      Video
                    </button>
                    <button className="btn btn-small" onClick={() => void dial(p.username, false)} disabled={Boolean(inCall)} aria-label={`Audio call ${p.displayName}`}>
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
          <CallLog calls={calls} onCall={(peer, video) => void dial(peer, video)} disabled={Boolean(inCall)} />
        </section>
      </main>

      {call && call.phase === 'incoming' && <IncomingCall call={call} phone={phone} />}
      {call && call.phase !== 'incoming' && <CallScreen call={call} phone={phone} />}
      {toast && (
        <div className="toast" role="status" aria-live="polite" data-testid="call-toast">
          {toast}
          <button className="btn btn-ghost btn-small" onClick={() => setToast(undefined)} aria-label="Dismiss">
            <Icon name="close" size={16} />
          </button>
        </div>
      )}
      {settingsOpen && <SettingsDialog onClose={() => setSettingsOpen(false)} />}
    </div>
  );
}
