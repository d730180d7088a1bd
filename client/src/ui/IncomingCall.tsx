/** The ringing screen for an incoming call. */
import { useEffect, useRef } from 'react';
import type { CallState, Phone } from '../sip/phone';

export function IncomingCall({ call, phone }: { call: CallState; phone: Phone }) {
  const acceptRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    acceptRef.current?.focus();
    if (document.hidden && 'Notification' in window && Notification.permission === 'granted') {
      const n = new Notification(`${call.peerName} is calling`, { body: call.video ? 'Video call' : 'Audio call', tag: 'parley-call' });
      n.onclick = () => window.focus();
      return () => n.close();
    }
  }, [call.id, call.peerName, call.video]);

  return (
    <div className="incoming" role="alertdialog" aria-modal="true" aria-labelledby="incoming-title" data-testid="incoming-call">
      <div className="card incoming-card">
        <div className="avatar-large ringing" aria-hidden="true">
          {call.peerName.slice(0, 1).toUpperCase()}
        </div>
        <h2 id="incoming-title">{call.peerName}</h2>
        <p className="muted">
          Incoming {call.video ? 'video' : 'audio'} call{call.peer !== call.peerName ? ` · ${call.peer}` : ''}
        </p>
        <div className="incoming-actions">
          <button className="btn btn-danger" onClick={() => phone.decline()}>
            Decline
          </button>
          {call.video && (
            <button className="btn" onClick={() => void phone.answer(false)}>
              Audio only
            </button>
          )}
          <button ref={acceptRef} className="btn btn-accept" onClick={() => void phone.answer(true)}>
            Accept
          </button>
        </div>
      </div>
    </div>
  );
}
