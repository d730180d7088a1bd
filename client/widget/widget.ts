/**
 * widget.js: embeds Parley in another site. No React, no dependencies: it makes an iframe on
 * the Parley server that served this script, and talks to it only through postMessage
 * (contracts/embed/embedProtocol.ts), checking that every message comes from that frame and that origin.
 *
 *   <script src="https://parley.example.org/widget.js"></script>
 *   const meeting = Parley.embed('#meet', { type: 'meeting', room: 'physics-101', displayName: 'Guest' });
 *   meeting.on('participantJoined', (p) => console.log(p.displayName));
 *   meeting.command('toggleAudio');
 */
import {
  embedMessage,
  parseEmbedMessage,
  type EmbedCommandName,
  type EmbedCommands,
  type EmbedEventName,
  type EmbedEvents,
  type WidgetType,
} from '../../contracts/embed/embedProtocol';

export type { EmbedCommandName, EmbedCommands, EmbedEventName, EmbedEvents, EmbedParticipant, WidgetType } from '../../contracts/embed/embedProtocol';

export interface EmbedOptions {
  type: WidgetType;
  /** meeting: the meeting's name (letters, digits, dashes). */
  room?: string;
  /** call: the Parley user (or address) the button calls. */
  to?: string;
  /** chat: the user, or group chat (name@conference.<domain>), to chat with. */
  with?: string;
  /** The name others see, for guests. */
  displayName?: string;
  /** A guest link's token (the `guest` parameter of a link a meeting's owner made). */
  guestToken?: string;
  /** An embed key the Parley operator issued for this site (`parley embed-key`). */
  embedKey?: string;
  /** meeting: show the pre-join screen (camera preview, devices) first; default true. */
  prejoin?: boolean;
  /** Follow the host page (default), or force one. */
  theme?: 'auto' | 'light' | 'dark';
  /** Parley's origin; defaults to where widget.js was loaded from. */
  server?: string;
}

type Handler<E extends EmbedEventName> = (data: EmbedEvents[E]) => void;

/** How long after the frame loads Parley must say it is ready. */
const LOAD_TIMEOUT_MS = 8000;

const scriptOrigin = (() => {
  const src = (document.currentScript as HTMLScriptElement | null)?.src;
  return src ? new URL(src).origin : location.origin;
})();

function hostTheme(): 'light' | 'dark' {
  const scheme = getComputedStyle(document.documentElement).colorScheme;
  if (scheme === 'dark' || scheme === 'light') return scheme;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export class ParleyEmbed {
  readonly iframe: HTMLIFrameElement;
  readonly origin: string;
  readonly #handlers = new Map<EmbedEventName, Set<Handler<EmbedEventName>>>();
  readonly #pending: Array<[EmbedCommandName, unknown]> = [];
  readonly #media = matchMedia('(prefers-color-scheme: dark)');
  #ready = false;
  #loadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(container: HTMLElement, readonly options: EmbedOptions) {
    this.origin = new URL(options.server ?? scriptOrigin).origin;
    const params = new URLSearchParams();
    const set = (k: string, v: string | undefined) => v && params.set(k, v);
    set('room', options.room);
    set('to', options.to);
    set('with', options.with);
    set('name', options.displayName);
    set('guest', options.guestToken);
    set('key', options.embedKey);
    if (options.prejoin === false) params.set('prejoin', '0');
    params.set('theme', options.theme && options.theme !== 'auto' ? options.theme : hostTheme());
    const iframe = document.createElement('iframe');
    iframe.src = `${this.origin}/embed/${encodeURIComponent(options.type)}?${params}`;
    iframe.allow = 'camera; microphone; display-capture; autoplay; fullscreen';
    iframe.title = `Parley ${options.type}`;
    iframe.style.cssText = 'width:100%;height:100%;min-height:240px;border:0;border-radius:8px;display:block';
    this.iframe = iframe;
    // A frame the browser refused (this site is not allowed to embed Parley) still fires "load",
    // but Parley never says it is ready: tell the host page why nothing shows.
    iframe.addEventListener('load', () => {
      clearTimeout(this.#loadTimer);
      this.#loadTimer = setTimeout(() => {
        if (!this.#ready) {
          this.#dispatch('error', {
            code: 'not_loaded',
            message: `Parley did not load from ${this.origin}. Is this site (${location.origin}) in the server's PARLEY_EMBED_ORIGINS?`,
          });
        }
      }, LOAD_TIMEOUT_MS);
    });
    window.addEventListener('message', this.#onMessage);
    if (!options.theme || options.theme === 'auto') this.#media.addEventListener('change', this.#onThemeChange);
    container.replaceChildren(iframe);
  }

  on<E extends EmbedEventName>(event: E, handler: Handler<E>): this {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, (set = new Set()));
    set.add(handler as Handler<EmbedEventName>);
    return this;
  }

  off<E extends EmbedEventName>(event: E, handler: Handler<E>): this {
    this.#handlers.get(event)?.delete(handler as Handler<EmbedEventName>);
    return this;
  }

  /** Sends a command; commands sent before the frame is ready wait for it. */
  command<C extends EmbedCommandName>(name: C, ...data: EmbedCommands[C] extends Record<string, never> ? [] : [EmbedCommands[C]]): void {
    const payload = data[0] ?? {};
    if (!this.#ready) this.#pending.push([name, payload]);
    else this.#post(name, payload);
  }

  destroy(): void {
    clearTimeout(this.#loadTimer);
    window.removeEventListener('message', this.#onMessage);
    this.#media.removeEventListener('change', this.#onThemeChange);
    this.iframe.remove();
    this.#handlers.clear();
  }

  #post(name: EmbedCommandName, data: unknown): void {
    // Addressed to Parley's origin only: if the frame navigated elsewhere, nothing is delivered.
    this.iframe.contentWindow?.postMessage(embedMessage('command', name, data), this.origin);
  }

  #onMessage = (event: MessageEvent): void => {
    if (event.origin !== this.origin || event.source !== this.iframe.contentWindow) return;
    const message = parseEmbedMessage(event.data);
    if (!message || message.kind !== 'event') return;
    if (message.name === 'ready' && !this.#ready) {
      this.#ready = true;
      for (const [name, data] of this.#pending.splice(0)) this.#post(name, data);
    }
    this.#dispatch(message.name, message.data);
  };

  #dispatch(name: EmbedEventName, data: unknown): void {
    for (const handler of [...(this.#handlers.get(name) ?? [])]) {
      try {
        handler(data as never);
      } catch (err) {
        // A host page's handler that throws must not stop the others.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  #onThemeChange = (): void => {
    if (this.#ready) this.#post('setTheme', { theme: hostTheme() });
  };
}

export interface ParleyWidgetApi {
  readonly version: 1;
  embed(target: string | HTMLElement, options: EmbedOptions): ParleyEmbed;
}

export const Parley: ParleyWidgetApi = {
  version: 1,
  embed(target, options) {
    const container = typeof target === 'string' ? document.querySelector<HTMLElement>(target) : target;
    if (!container) throw new Error(`Parley.embed: no element matches ${String(target)}`);
    if (!options || !['meeting', 'call', 'chat'].includes(options.type)) {
      throw new Error("Parley.embed: options.type must be 'meeting', 'call' or 'chat'");
    }
    return new ParleyEmbed(container, options);
  },
};

declare global {
  interface Window {
    Parley: ParleyWidgetApi;
  }
}

window.Parley = Parley;
