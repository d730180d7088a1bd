/**
 * The embed protocol: what a host page (through widget.js) and an embedded Parley frame say
 * to each other with postMessage. Versioned and typed; both sides check the origin and the
 * source window of every message and ignore anything that does not parse.
 *
 * Unlike the other contracts this one is plain TypeScript, not zod: its types are published to
 * other sites as widget.d.ts (which must not require zod), and widget.js stays a few KB without
 * a validation library. The parser below is its one validator, used by both ends.
 */

export const EMBED_PROTOCOL = 'parley-embed';
export const EMBED_PROTOCOL_VERSION = 1;

export type WidgetType = 'meeting' | 'call' | 'chat';

/** Commands the host page sends; each applies where it makes sense (e.g. hangup to a call). */
export interface EmbedCommands {
  join: Record<string, never>;
  leave: Record<string, never>;
  toggleAudio: Record<string, never>;
  toggleVideo: Record<string, never>;
  shareScreen: Record<string, never>;
  hangup: Record<string, never>;
  sendMessage: { text: string };
  setDisplayName: { displayName: string };
  /** widget.js sends this itself when the host page's light/dark preference changes. */
  setTheme: { theme: 'light' | 'dark' };
}

export interface EmbedParticipant {
  id: string;
  displayName: string;
}

/** Events the embedded frame reports. */
export interface EmbedEvents {
  ready: { type: WidgetType; signedIn: boolean };
  joined: { participant: EmbedParticipant };
  left: { reason: string };
  participantJoined: EmbedParticipant;
  participantLeft: EmbedParticipant;
  activeSpeakerChanged: { participantId: string | null };
  audioMuted: { muted: boolean };
  videoMuted: { muted: boolean };
  callState: { state: 'idle' | 'calling' | 'ringing' | 'active' | 'held' | 'ended'; peer?: string; reason?: string };
  messageReceived: { from: string; text: string; at: number };
  error: { code: string; message: string };
}

export type EmbedCommandName = keyof EmbedCommands;
export type EmbedEventName = keyof EmbedEvents;

export type EmbedMessage =
  | { protocol: typeof EMBED_PROTOCOL; version: number; kind: 'command'; name: EmbedCommandName; data: unknown }
  | { protocol: typeof EMBED_PROTOCOL; version: number; kind: 'event'; name: EmbedEventName; data: unknown };

type Data = Record<string, unknown>;
const noArguments = () => true;

/** Each command's argument check: a command whose arguments have the wrong type is dropped. */
const COMMANDS: { readonly [C in EmbedCommandName]: (data: Data) => boolean } = {
  join: noArguments,
  leave: noArguments,
  toggleAudio: noArguments,
  toggleVideo: noArguments,
  shareScreen: noArguments,
  hangup: noArguments,
  sendMessage: (d) => typeof d.text === 'string',
  setDisplayName: (d) => typeof d.displayName === 'string',
  setTheme: (d) => d.theme === 'light' || d.theme === 'dark',
};
const EVENTS: ReadonlySet<string> = new Set<EmbedEventName>([
  'ready', 'joined', 'left', 'participantJoined', 'participantLeft', 'activeSpeakerChanged', 'audioMuted', 'videoMuted',
  'callState', 'messageReceived', 'error',
]);

/**
 * The message if it is one of ours, of this major version, with a known name (and, for a
 * command, arguments of the right types); else null. Never throws.
 */
export function parseEmbedMessage(raw: unknown): EmbedMessage | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Record<string, unknown>;
  if (m.protocol !== EMBED_PROTOCOL || m.version !== EMBED_PROTOCOL_VERSION) return null;
  if (typeof m.name !== 'string') return null;
  const data = m.data === undefined ? {} : m.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  if (m.kind === 'command' && Object.prototype.hasOwnProperty.call(COMMANDS, m.name) && COMMANDS[m.name as EmbedCommandName](data as Data)) return { protocol: EMBED_PROTOCOL, version: EMBED_PROTOCOL_VERSION, kind: 'command', name: m.name as EmbedCommandName, data };
  if (m.kind === 'event' && EVENTS.has(m.name)) return { protocol: EMBED_PROTOCOL, version: EMBED_PROTOCOL_VERSION, kind: 'event', name: m.name as EmbedEventName, data };
  return null;
}

export function embedMessage<K extends 'command' | 'event'>(
  kind: K,
  name: K extends 'command' ? EmbedCommandName : EmbedEventName,
  data: unknown,
): EmbedMessage {
  return { protocol: EMBED_PROTOCOL, version: EMBED_PROTOCOL_VERSION, kind, name, data } as EmbedMessage;
}
