/** The user's own status: available / away / do not disturb, and a status message. */
import { useEffect, useRef, useState } from 'react';
import type { ChatClient, Show } from '../../xmpp/chatClient';
import { PresenceDot } from './PresenceDot';

export function MyPresence({ chat, show, status }: { chat: ChatClient; show: Show; status: string }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(status);
  const root = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  // Like any menu: Escape closes it (focus back on its button), so does a click elsewhere.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      toggle.current?.focus();
    };
    const onPointer = (e: PointerEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open]);
  const choose = (s: Show) => {
    chat.setPresence(s, draft.trim());
    setOpen(false);
  };
  return (
    <div className="my-presence" ref={root}>
      <button ref={toggle} className="btn btn-ghost btn-small" aria-haspopup="dialog" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="my-presence">
        <PresenceDot show={show} decorative />
        <span className="sr-only">Your status: </span>
        <span className="hide-narrow">{show === 'dnd' ? 'Do not disturb' : show === 'away' ? 'Away' : 'Available'}</span>
      </button>
      {open && (
        <div className="popover card" role="dialog" aria-label="Your status">
          {(['available', 'away', 'dnd'] as Show[]).map((s) => (
            <button key={s} className={`menu-item ${s === show ? 'selected' : ''}`} onClick={() => choose(s)} aria-pressed={s === show}>
              <PresenceDot show={s} decorative /> {s === 'available' ? 'Available' : s === 'away' ? 'Away' : 'Do not disturb'}
            </button>
          ))}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              chat.setPresence(show, draft.trim());
              setOpen(false);
            }}
          >
            <label>
              Status message
              <input value={draft} maxLength={140} placeholder="e.g. In the lab until 3" onChange={(e) => setDraft(e.target.value)} />
            </label>
            <button className="btn btn-primary btn-small" type="submit">
              Set status
            </button>
          </form>
        </div>
      )}
    </div>
  );
}
