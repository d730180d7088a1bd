import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, type Profile, type SignInOptions } from '../api/apiClient';
import { unlockAudio } from '../media/ringtone';

export function LoginScreen({ notice, onSignedIn }: { notice?: string; onSignedIn: (p: Profile) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  // Until the server says otherwise: the password form alone (what every installation has).
  const [options, setOptions] = useState<SignInOptions>({ localLogin: true, providers: [] });

  useEffect(() => {
    api
      .signInOptions()
      .then(setOptions)
      .catch(() => undefined);
  }, []);
  // Back here after signing in at the provider: the page the person was on.
  const next = encodeURIComponent(location.pathname + location.search);

  async function submit(e: FormEvent) {
    e.preventDefault();
    unlockAudio(); // a user gesture: lets the ringtone play later
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api.login(username, password));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Sign-in failed. Try again.');
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">P</span> Parley
        </div>
        <h1 id="login-title">Sign in</h1>
        <p className="muted">Calls, chat and meetings with your organisation.</p>
        {notice && <p className="notice" role="status">{notice}</p>}
        {options.providers.length > 0 && (
          <div className="sign-in-providers" role="group" aria-label="Sign in with your organisation">
            {options.providers.map((p) => (
              <a key={p.id} className="btn btn-primary btn-block" href={`${p.startUrl}?next=${next}`} data-testid={`sign-in-${p.id}`} onClick={() => unlockAudio()}>
                {p.type === 'saml-federation' ? `Sign in through ${p.name}` : `Sign in with ${p.name}`}
              </a>
            ))}
          </div>
        )}
        {options.providers.length > 0 && options.localLogin && <p className="divider-text muted">or with a Parley password</p>}
        {options.localLogin && (
          <>
            <label>
              Username
              <input
                name="username"
                autoComplete="username"
                autoCapitalize="none"
                spellCheck={false}
                required
                autoFocus={!options.providers.length}
                value={username}
                onChange={(e) => setUsername(e.target.value)}
              />
            </label>
            <label>
              Password
              <input
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
            {error && (
              <p className="error" role="alert" data-testid="login-error">
                {error}
              </p>
            )}
            <button className={`btn btn-block ${options.providers.length ? '' : 'btn-primary'}`} type="submit" disabled={busy}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </>
        )}
      </form>
    </main>
  );
}
