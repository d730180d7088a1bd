import type { Show } from '../../xmpp/chatClient';

const LABEL: Record<Show, string> = { available: 'Available', away: 'Away', xa: 'Away', dnd: 'Do not disturb', offline: 'Offline' };

/** `decorative` when the text next to it already says the same (menu items). */
export function PresenceDot({ show, inCall, decorative }: { show: Show; inCall?: boolean; decorative?: boolean }) {
  const label = inCall ? 'In a call' : LABEL[show];
  if (decorative) return <span className={`presence-dot show-${inCall ? 'call' : show}`} aria-hidden="true" />;
  return <span className={`presence-dot show-${inCall ? 'call' : show}`} role="img" aria-label={label} title={label} />;
}

export function presenceLabel(show: Show, inCall: boolean, status?: string): string {
  if (inCall) return status || 'In a call';
  return status ? `${LABEL[show]} · ${status}` : LABEL[show];
}
