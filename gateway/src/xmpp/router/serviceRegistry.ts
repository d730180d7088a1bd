/**
 * How XMPP services plug into the server, in the manner of Prosody modules: each service
 * registers the IQ payload namespaces it answers, the service discovery (XEP-0030) features
 * it offers, the component domains it serves (conference.<domain>, upload.<domain>) and the
 * session events it wants to hear about. The server routes stanzas by these registrations;
 * service discovery answers from them, so what is advertised is exactly what is handled.
 */
import type { Element } from 'ltx';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import type { Jid } from '../core/jid.js';
import { el, stanzaError } from '../core/xml.js';
import type { C2SSession } from '../session/c2sSession.js';
import type { SessionRef, XmppContext } from './xmppContext.js';

/**
 * What a handler returns: nothing, or a promise that settles when the stanza has been handled
 * (its answer sent, its records written). The session handles a client's stanzas one after
 * another in this order.
 */
export type Handled = void | Promise<void>;

/** Handles one IQ get/set; `payload` is its single child. */
export type IqHandler = (session: C2SSession, iq: Element, payload: Element, to: Jid | undefined) => Handled;
type SessionHook = (session: C2SSession) => Handled;
type EndedHook = (session: C2SSession, unacked: Element[]) => Handled;

/**
 * Whom an IQ handler answers for:
 * - `self`: the sender themself — an IQ without `to`, to the server's domain, or to the
 *   sender's own bare JID (roster, own vCard, own archive, carbons, ping …);
 * - `account`: a query (get) about another local account, sent to its bare JID, which the
 *   server answers on the account's behalf (RFC 6121 §8.5.1: vCards, disco#info).
 */
export type IqScope = 'self' | 'account';

/**
 * A sub-domain served by a service (XEP-0114-style component, but in process). Its handlers
 * may get a session of another gateway node (a room's home node handles every stanza to it).
 */
export interface ComponentHandlers {
  /** Every IQ to the domain or its JIDs; without a handler, get/set get service-unavailable. */
  iq?(session: SessionRef, iq: Element, to: Jid): Handled;
  /** Without a handler, messages get service-unavailable. */
  message?(session: SessionRef, message: Element, to: Jid): Handled;
  /** Without a handler, presence is dropped. */
  presence?(session: SessionRef, presence: Element, to: Jid): Handled;
}

export interface Component extends ComponentHandlers {
  domain: string;
  /** Shown in the server's disco#items. */
  name: string;
}

/** What a service can register with the server. */
export interface XmppServiceHost {
  onIq(scope: IqScope, ns: string, handler: IqHandler): void;
  /**
   * Advertises a feature in disco#info: of the server, or of a user's own account (what the
   * user's bare JID supports, e.g. the archive).
   */
  addFeature(scope: 'server' | 'account', ns: string): void;
  addComponent(component: Component): void;
  /** The session sent its first available presence: hand it what waited for it. */
  onInitialPresence(hook: SessionHook): void;
  /** The session is gone; `unacked` are stanzas it never acknowledged (XEP-0198). */
  onSessionEnded(hook: EndedHook): void;
}

/** A service that plugs into the server. */
export interface XmppService {
  register(host: XmppServiceHost): void;
}

export class XmppServiceRegistry implements XmppServiceHost {
  readonly #iq: Record<IqScope, Map<string, IqHandler>> = { self: new Map(), account: new Map() };
  readonly #features = { server: new Set<string>([NS.discoInfo, NS.discoItems]), account: new Set<string>([NS.discoInfo]) };
  readonly #components = new Map<string, Component>();
  readonly #initialPresence: SessionHook[] = [];
  readonly #ended: EndedHook[] = [];

  constructor(private readonly ctx: XmppContext) {
    // Service discovery itself is answered from what the services registered.
    this.onIq('self', NS.discoInfo, (session, iq, payload, to) => session.send(result(iq, this.#selfInfo(to, payload.attrs.node))));
    this.onIq('self', NS.discoItems, (session, iq, _payload, to) => session.send(result(iq, this.#items(to))));
    this.onIq('account', NS.discoInfo, async (session, iq, _payload, to) => {
      const exists = await this.ctx.userExists(to!.local!);
      session.send(exists ? result(iq, this.#accountInfoForOthers()) : stanzaError(iq, 'cancel', 'service-unavailable'));
    });
  }

  // ---- XmppServiceHost -----------------------------------------------------------------

  onIq(scope: IqScope, ns: string, handler: IqHandler): void {
    const handlers = this.#iq[scope];
    if (handlers.has(ns)) throw new Error(`Two XMPP services handle ${scope} IQs in ${ns}`);
    handlers.set(ns, handler);
  }

  addFeature(scope: 'server' | 'account', ns: string): void {
    this.#features[scope].add(ns);
  }

  addComponent(component: Component): void {
    if (this.#components.has(component.domain)) throw new Error(`Two XMPP services serve ${component.domain}`);
    this.#components.set(component.domain, component);
  }

  onInitialPresence(hook: SessionHook): void {
    this.#initialPresence.push(hook);
  }

  onSessionEnded(hook: EndedHook): void {
    this.#ended.push(hook);
  }

  // ---- for the server's router ---------------------------------------------------------

  iqHandler(scope: IqScope, ns: string | undefined): IqHandler | undefined {
    return ns === undefined ? undefined : this.#iq[scope].get(ns);
  }

  component(domain: string): Component | undefined {
    return this.#components.get(domain);
  }

  /** Runs the hooks one after another, in registration order; one failing does not stop the rest. */
  async initialPresence(session: C2SSession): Promise<void> {
    for (const hook of this.#initialPresence) await this.#run(() => hook(session), 'initial presence');
  }

  async sessionEnded(session: C2SSession, unacked: Element[]): Promise<void> {
    for (const hook of this.#ended) await this.#run(() => hook(session, unacked), 'session end');
  }

  async #run(hook: () => Handled, what: string): Promise<void> {
    try {
      await hook();
    } catch (err) {
      this.ctx.logger.error({ err }, `XMPP ${what} handling failed`);
    }
  }

  /** The server's features (for tests and diagnostics). */
  features(scope: 'server' | 'account'): string[] {
    return [...this.#features[scope]];
  }

  // ---- service discovery ---------------------------------------------------------------

  /** disco#info of the server (echoing a caps `node`), or of the sender's own account when sent to their bare JID. */
  #selfInfo(to: Jid | undefined, node: string | undefined): Element {
    if (to?.local !== undefined) {
      return el('query', { xmlns: NS.discoInfo }, accountIdentity(), ...featureElements(this.#features.account));
    }
    return el(
      'query',
      { xmlns: NS.discoInfo, node },
      el('identity', { category: 'server', type: 'im', name: 'Parley' }),
      ...featureElements(this.#features.server),
    );
  }

  /** disco#info of someone else's account: what the server answers on its behalf. */
  #accountInfoForOthers(): Element {
    return el('query', { xmlns: NS.discoInfo }, accountIdentity(), ...featureElements(new Set(this.#iq.account.keys())));
  }

  #items(to: Jid | undefined): Element {
    const items = to?.local !== undefined ? [] : [...this.#components.values()].map((c) => el('item', { jid: c.domain, name: c.name }));
    return el('query', { xmlns: NS.discoItems }, ...items);
  }
}

/** An IQ result answering `iq`, addressed back to its sender. */
export function result(iq: Element, payload?: Element): Element {
  return el('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, payload);
}

function accountIdentity(): Element {
  return el('identity', { category: 'account', type: 'registered' });
}

function featureElements(features: Iterable<string>): Element[] {
  return [...features].map((v) => el('feature', { var: v }));
}
