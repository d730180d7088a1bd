/**
 * The embedded frame's end of the embed protocol: commands from the host page in, events out.
 * The host's origin is the frame's real parent origin as the browser reports it
 * (location.ancestorOrigins, else the referrer); messages from any other window or origin are
 * ignored, and events are addressed to that origin only.
 */
import {
  embedMessage,
  parseEmbedMessage,
  type EmbedCommandName,
  type EmbedCommands,
  type EmbedEventName,
  type EmbedEvents,
} from '../../../contracts/embed/embedProtocol';
import { Emitter } from '../util/emitter';

type CommandEvents = { [C in EmbedCommandName]: [EmbedCommands[C]] };

/** The origin of the page that frames us, or undefined when not framed. */
export function parentOrigin(): string | undefined {
  if (window.parent === window) return undefined;
  const ancestors = (location as Location & { ancestorOrigins?: DOMStringList }).ancestorOrigins;
  if (ancestors && ancestors.length > 0) return ancestors[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : undefined;
  } catch {
    return undefined;
  }
}

export class EmbedBridge extends Emitter<CommandEvents> {
  readonly hostOrigin: string | undefined;

  constructor() {
    super();
    this.hostOrigin = parentOrigin();
    if (this.hostOrigin) window.addEventListener('message', this.#onMessage);
  }

  send<E extends EmbedEventName>(name: E, data: EmbedEvents[E]): void {
    if (!this.hostOrigin) return;
    window.parent.postMessage(embedMessage('event', name, data), this.hostOrigin);
  }

  close(): void {
    window.removeEventListener('message', this.#onMessage);
  }

  #onMessage = (event: MessageEvent): void => {
    if (event.source !== window.parent || event.origin !== this.hostOrigin) return;
    const message = parseEmbedMessage(event.data);
    if (!message || message.kind !== 'command') return;
    try {
      // The parser has checked the command's arguments.
      this.emit(message.name, message.data as never);
    } catch (err) {
      this.send('error', { code: 'command_failed', message: (err as Error).message });
    }
  };
}
