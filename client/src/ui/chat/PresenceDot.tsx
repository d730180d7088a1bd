import type { Show } from '../../xmpp/chatClient';

const LABEL: Record<Show, string> = { available: 'Available', away: 'Away', xa: 'Away', dnd: 'Do not disturb', offline: 'Offline' };

/** What a contact's presence is while our own chat connection is down: not known. */
export const UNKNOWN_PRESENCE = 'Unknown while chat is offline';

/**
 * `decorative` when the text next to it already says the same (menu items); `unknown` while the
 * chat connection is down, when the last presence seen may no longer be true.
 */
export function PresenceDot({ show, inCall, decorative, unknown }: { show: Show; inCall?: boolean; decorative?: boolean; unknown?: boolean }) {
  const kind = unknown ? 'unknown' : inCall ? 'call' : show;
  const label = unknown ? UNKNOWN_PRESENCE : inCall ? 'In a call' : LABEL[show];
  if (decorative) return <span className={`presence-dot show-${kind}`} aria-hidden="true" />;
  return <span className={`presence-dot show-${kind}`} role="img" aria-label={label} title={label} />;
}

export function presenceLabel(show: Show, inCall: boolean, status?: string, unknown = false): string {
  if (unknown) return UNKNOWN_PRESENCE;
  if (inCall) return status || 'In a call';
  return status ? `${LABEL[show]} · ${status}` : LABEL[show];
}
