/**
 * "Use a phone or an XMPP client": the settings to type into a desk phone, a softphone or an
 * XMPP app, and an app password per device (they cannot do the web sign-in) — shown once, with
 * a QR code a softphone (Linphone) imports its account from, listed with its last use, revocable.
 */
import QRCode from 'qrcode';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, type AppPasswordScope, type AppPasswordSummary, type ClientSettings, type NewAppPasswordResponse } from '../api/apiClient';
import { useDialog } from './useDialog';

const when = (ms: number) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const SCOPE_NAMES: Record<AppPasswordScope, string> = { sip: 'Calls (SIP)', xmpp: 'Chat (XMPP)' };

export function DevicesDialog({ onClose }: { onClose: () => void }) {
  const dialogRef = useRef<HTMLDivElement>(null);
  const madeRef = useRef<HTMLHeadingElement>(null);
  const [settings, setSettings] = useState<ClientSettings>();
  const [list, setList] = useState<AppPasswordSummary[]>();
  const [max, setMax] = useState(0);
  const [label, setLabel] = useState('');
  const [scopes, setScopes] = useState<Record<AppPasswordScope, boolean>>({ sip: true, xmpp: true });
  const [made, setMade] = useState<NewAppPasswordResponse>();
  const [qr, setQr] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  useDialog(dialogRef, onClose, '#device-label');

  async function reload() {
    try {
      const r = await api.appPasswords();
      setList(r.appPasswords);
      setMax(r.max);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not load your app passwords. Try again.');
    }
  }

  useEffect(() => {
    void reload();
    api
      .clientSettings()
      .then(setSettings)
      .catch(() => setError('Could not load the server settings. Try again.'));
  }, []);

  useEffect(() => {
    // The password is shown once: bring it into view (the dialog scrolls) and say it.
    if (made) {
      madeRef.current?.scrollIntoView({ block: 'start' });
      madeRef.current?.focus();
    }
  }, [made]);

  useEffect(() => {
    setQr(undefined);
    if (made?.provisioning) void QRCode.toDataURL(made.provisioning.linphoneUrl, { margin: 1, width: 220 }).then(setQr);
  }, [made]);

  async function create(e: FormEvent) {
    e.preventDefault();
    const chosen = (Object.keys(scopes) as AppPasswordScope[]).filter((s) => scopes[s]);
    if (!chosen.length) return setError('Choose what the device is for: calls, chat or both.');
    setBusy(true);
    setError(undefined);
    setCopied(false);
    try {
      setMade(await api.newAppPassword(label.trim(), chosen));
      setLabel('');
      await reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not make the app password. Try again.');
    } finally {
      setBusy(false);
    }
  }

  async function revoke(a: AppPasswordSummary) {
    if (!confirm(`Revoke the app password of “${a.label}”? That device is signed out at once and cannot sign in with it again.`)) return;
    setError(undefined);
    try {
      await api.revokeAppPassword(a.id);
      if (made?.appPassword.id === a.id) setMade(undefined);
      await reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not revoke it. Try again.');
    }
  }

  async function copy(text: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }

  const sipPorts = settings?.sip.transports.map((t) => `${t.transport.toUpperCase()} ${t.port}`).join(', ');
  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div ref={dialogRef} className="card modal modal-wide devices" role="dialog" aria-modal="true" aria-labelledby="devices-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="devices-title">Use a phone or an XMPP client</h2>
        <p className="muted">
          Desk phones, softphones and chat apps cannot use this web sign-in. Give each device its own app password; revoke it when you stop using the
          device.
        </p>

        {settings && (
          <section aria-labelledby="devices-settings">
            <h3 id="devices-settings">Settings to enter</h3>
            <dl className="settings-list" data-testid="client-settings">
              <dt>User name</dt>
              <dd>
                <code>{settings.username}</code>
              </dd>
              <dt>Domain (SIP realm)</dt>
              <dd>
                <code>{settings.domain}</code>
              </dd>
              <dt>Phone (SIP) address</dt>
              <dd>
                <code>{settings.sip.address}</code>
              </dd>
              <dt>SIP server</dt>
              <dd>
                <code>{settings.sip.server}</code> — {sipPorts}
              </dd>
              <dt>Chat (XMPP) address</dt>
              <dd>
                <code>{settings.xmpp.jid}</code>
              </dd>
              <dt>XMPP server</dt>
              <dd>
                <code>{settings.xmpp.server}</code> — port {settings.xmpp.port} (STARTTLS), or WebSocket <code>{settings.xmpp.websocketUrl}</code>
              </dd>
              <dt>Password</dt>
              <dd>an app password from below</dd>
            </dl>
          </section>
        )}

        <section aria-labelledby="devices-new">
          <h3 id="devices-new">New app password</h3>
          <form className="device-form" onSubmit={create}>
            <label>
              Device name
              <input id="device-label" required maxLength={60} placeholder="Desk phone, Gajim on my laptop…" value={label} onChange={(e) => setLabel(e.target.value)} />
            </label>
            <fieldset className="scopes">
              <legend>For</legend>
              {(Object.keys(SCOPE_NAMES) as AppPasswordScope[]).map((s) => (
                <label key={s} className="checkbox">
                  <input type="checkbox" checked={scopes[s]} onChange={(e) => setScopes({ ...scopes, [s]: e.target.checked })} />
                  {SCOPE_NAMES[s]}
                </label>
              ))}
            </fieldset>
            <button className="btn btn-primary" type="submit" disabled={busy || (list !== undefined && list.length >= max)}>
              {busy ? 'Making…' : 'Make app password'}
            </button>
          </form>
          {list !== undefined && list.length >= max && <p className="muted">You have the most app passwords allowed ({max}): revoke one you no longer use.</p>}
        </section>

        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}

        {made && (
          <section className="new-password" aria-labelledby="devices-made" aria-live="polite" data-testid="new-app-password">
            <h3 id="devices-made" ref={madeRef} tabIndex={-1}>
              App password for “{made.appPassword.label}”
            </h3>
            <p>Type this into the device now — it is not shown again:</p>
            <p className="password-once">
              <code data-testid="app-password">{made.password}</code>
              <button type="button" className="btn btn-small" onClick={() => void copy(made.password)}>
                {copied ? 'Copied' : 'Copy'}
              </button>
            </p>
            {made.provisioning && (
              <div className="provisioning">
                {qr && <img src={qr} width={220} height={220} alt="QR code: the link a softphone such as Linphone imports this account from" />}
                <p>
                  Or scan this with Linphone (Assistant → Fetch remote configuration), or give it this link:{' '}
                  <a href={made.provisioning.linphoneUrl} data-testid="provisioning-link">
                    provisioning link
                  </a>
                  . It works until {when(made.provisioning.expiresAt)}.
                </p>
              </div>
            )}
          </section>
        )}

        <section aria-labelledby="devices-list">
          <h3 id="devices-list">Your devices</h3>
          {list === undefined ? (
            <p className="muted" role="status">
              Loading…
            </p>
          ) : list.length === 0 ? (
            <p className="muted">No app passwords yet.</p>
          ) : (
            <ul className="device-list" data-testid="app-passwords">
              {list.map((a) => (
                <li key={a.id}>
                  <div>
                    <strong>{a.label}</strong>
                    <span className="muted"> · {a.scopes.map((s) => SCOPE_NAMES[s]).join(', ')}</span>
                    <div className="muted small">
                      Made {when(a.createdAt)} · {a.lastUsedAt ? `last used ${when(a.lastUsedAt)}${a.lastUsedBy ? ` (${a.lastUsedBy})` : ''}` : 'never used'}
                    </div>
                  </div>
                  <button type="button" className="btn btn-small btn-danger-outline" onClick={() => void revoke(a)} aria-label={`Revoke ${a.label}`}>
                    Revoke
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>

        <div className="modal-actions">
          <button className="btn btn-primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </div>
  );
}
