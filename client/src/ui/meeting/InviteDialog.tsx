/**
 * Inviting people: the meeting link for anyone with an account, and (for the organiser) a
 * guest link for people without one.
 */
import { useRef, useState } from 'react';
import { api, ApiError } from '../../api/apiClient';
import type { MeetingClient } from '../../meeting/meetingClient';
import { useDialog } from '../useDialog';

export function InviteDialog({ client, onClose }: { client: MeetingClient; onClose: () => void }) {
  const { conference, me } = client.state;
  const link = `${location.origin}/meet/${conference?.name ?? ''}`;
  const [guestLink, setGuestLink] = useState<{ url: string; expiresAt: number }>();
  const [error, setError] = useState<string>();
  const [copied, setCopied] = useState<string>();
  const ref = useRef<HTMLDivElement>(null);

  useDialog(ref, onClose, 'button');

  async function copy(text: string, what: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(what);
    } catch {
      setCopied(undefined);
      setError('Copying is blocked here; select the link and copy it yourself.');
    }
  }

  async function makeGuestLink() {
    setError(undefined);
    try {
      const made = await api.guestLink(conference!.name);
      // The link points at this origin, whatever the server's configured public address.
      setGuestLink({ url: `${location.origin}/meet/${conference!.name}?guest=${encodeURIComponent(made.token)}`, expiresAt: made.expiresAt });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not make a guest link.');
    }
  }

  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div ref={ref} className="card modal" role="dialog" aria-modal="true" aria-labelledby="invite-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="invite-title">Invite people</h2>
        <label>
          Meeting link (for people with a Parley account)
          <input readOnly value={link} onFocus={(e) => e.currentTarget.select()} data-testid="meeting-link" />
        </label>
        <button className="btn" onClick={() => void copy(link, 'link')}>
          {copied === 'link' ? 'Copied' : 'Copy link'}
        </button>
        {me?.role === 'owner' && (
          <>
            <p className="muted">People without an account can join with a guest link; they type their name.</p>
            {guestLink ? (
              <>
                <label>
                  Guest link (valid until {new Date(guestLink.expiresAt).toLocaleString()})
                  <input readOnly value={guestLink.url} onFocus={(e) => e.currentTarget.select()} data-testid="guest-link" />
                </label>
                <button className="btn" onClick={() => void copy(guestLink.url, 'guest')}>
                  {copied === 'guest' ? 'Copied' : 'Copy guest link'}
                </button>
              </>
            ) : (
              <button className="btn" onClick={() => void makeGuestLink()}>
                Create a guest link
              </button>
            )}
          </>
        )}
        {error && <p className="error">{error}</p>}
        <div className="modal-actions">
          <button className="btn btn-primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </div>
  );
}
