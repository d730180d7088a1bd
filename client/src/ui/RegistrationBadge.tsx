import type { RegistrationState } from '../sip/phone';

const LABELS: Record<RegistrationState, string> = {
  connecting: 'Connecting…',
  registered: 'Ready for calls',
  reconnecting: 'Reconnecting…',
  failed: 'Not connected',
  stopped: 'Offline',
};

export function RegistrationBadge({ state, detail }: { state: RegistrationState; detail?: string }) {
  return (
    <span className={`badge badge-${state}`} role="status" aria-live="polite" title={detail ?? LABELS[state]} data-testid="registration">
      <span className="badge-dot" aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
