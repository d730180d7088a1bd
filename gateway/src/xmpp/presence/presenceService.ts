/**
 * Presence (RFC 6121 §4): broadcast to the contacts allowed to see it, probes on initial
 * presence, directed presence, unavailable when a session ends — and unified presence: while a
 * user is in a SIP call their broadcast presence shows "do not disturb · In a call".
 * Each session's presence (available, priority, last broadcast, directed targets) is this
 * service's state, kept here rather than on the session. With several gateway nodes, the
 * presence of sessions on other nodes is mirrored here (`mirror`); each node broadcasts for its
 * own sessions only, to every watcher on any node.
 */
import type { Element } from 'ltx';
import { IN_CALL_ELEMENT, NS, PARLEY_NS } from '../../../../contracts/xmpp/namespaces.js';
import { clone, child, el } from '../core/xml.js';
import type { RosterStore } from '../roster/rosterStore.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import { localUser, type SessionRef, type XmppContext } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';

export const IN_A_CALL = 'In a call';

interface SessionPresence {
  available: boolean;
  priority: number;
  /** The last broadcast presence the client sent (without to/from). */
  presence: Element | undefined;
  /** Full/bare JIDs this session sent directed presence to (they get unavailable at the end). */
  directed: Set<string>;
}

/** What other gateway nodes mirror of a session's presence. */
export interface PresenceSnapshot {
  available: boolean;
  priority: number;
  presence: Element | undefined;
}

export class PresenceService implements XmppService {
  readonly #inCall = new Set<string>();
  readonly #sessions = new WeakMap<SessionRef, SessionPresence>();

  /** `initialPresence` runs the services' initial-presence hooks (XmppServiceHost.onInitialPresence). */
  constructor(
    private readonly ctx: XmppContext,
    private readonly roster: RosterStore,
    private readonly initialPresence: (session: C2SSession) => Promise<void>,
  ) {}

  register(host: XmppServiceHost): void {
    host.onSessionEnded((session) => this.sessionEnded(session));
  }

  /** Whether the session has sent available presence (and not unavailable since). */
  isAvailable(session: SessionRef): boolean {
    return this.#sessions.get(session)?.available ?? false;
  }

  /** The session's presence priority (RFC 6121 §4.7.2.3); 0 before any presence. */
  priorityOf(session: SessionRef): number {
    return this.#sessions.get(session)?.priority ?? 0;
  }

  #of(session: SessionRef): SessionPresence {
    let state = this.#sessions.get(session);
    if (!state) {
      state = { available: false, priority: 0, presence: undefined, directed: new Set() };
      this.#sessions.set(session, state);
    }
    return state;
  }

  /** The session's last broadcast presence, when it is available. */
  #current(session: SessionRef): Element | undefined {
    const state = this.#sessions.get(session);
    return state?.available ? state.presence : undefined;
  }

  /** A presence stanza from a client without `to` (broadcast) — available or unavailable. */
  async broadcastFrom(session: C2SSession, presence: Element): Promise<void> {
    const type = presence.attrs.type;
    if (type !== undefined && type !== 'unavailable') return; // probes and errors from clients are dropped
    const user = session.username!;
    const state = this.#of(session);
    if (type === 'unavailable') {
      const wasAvailable = state.available;
      state.available = false;
      state.presence = undefined;
      this.ctx.sessionChanged(session);
      if (wasAvailable) await this.#sendUnavailable(session, presence);
      return;
    }
    const first = !state.available;
    const clean = clone(presence);
    delete clean.attrs.to;
    delete clean.attrs.from;
    delete clean.attrs.id;
    state.presence = clean;
    state.priority = clampPriority(Number(child(clean, 'priority')?.getText() ?? 0));
    state.available = true;
    this.ctx.sessionChanged(session);
    const outgoing = this.#decorate(user, clean, session.fullJid);
    for (const target of await this.#audience(user)) target.send(withTo(outgoing, target.fullJid));
    if (first) {
      // Probe: what the user may see of each contact, from every available resource.
      for (const contact of await this.roster.subscriptions(user)) {
        const contactUser = localUser(this.ctx, contact);
        if (!contactUser) continue;
        for (const s of this.ctx.sessionsOf(contactUser)) {
          const current = this.#current(s);
          if (current) session.send(withTo(this.#decorate(contactUser, current, s.fullJid), session.fullJid));
        }
      }
      await this.initialPresence(session);
    }
  }

  /** Directed presence to one JID (RFC 6121 §4.6): remembered, so it can be revoked at the end. */
  directedFrom(session: C2SSession, presence: Element, to: string): void {
    const type = presence.attrs.type;
    if (type !== undefined && type !== 'unavailable') return;
    const { directed } = this.#of(session);
    if (type === 'unavailable') directed.delete(to);
    else directed.add(to);
    this.deliver(to, withFrom(presence, session.fullJid));
  }

  /** Delivers a presence stanza to a local JID (bare: every available resource). */
  deliver(to: string, presence: Element): void {
    const slash = to.indexOf('/');
    const bare = slash >= 0 ? to.slice(0, slash) : to;
    const user = localUser(this.ctx, bare);
    if (!user) return;
    if (slash >= 0) {
      const s = this.ctx.sessionByJid(to);
      if (s) s.send(withTo(presence, to));
      return;
    }
    for (const s of this.ctx.sessionsOf(user)) if (this.isAvailable(s)) s.send(withTo(presence, s.fullJid));
  }

  /** Sends the current presence of `user`'s available resources to `toBare` (after subscribed). */
  sendCurrentPresence(user: string, toBare: string): void {
    for (const s of this.ctx.sessionsOf(user)) {
      const current = this.#current(s);
      if (current) this.deliver(toBare, withFrom(this.#decorate(user, current, s.fullJid), s.fullJid));
    }
  }

  /** Tells `toBare` that `user`'s resources are gone for them (after unsubscribe). */
  sendUnavailableTo(user: string, toBare: string): void {
    for (const s of this.ctx.sessionsOf(user)) {
      if (this.isAvailable(s)) this.deliver(toBare, el('presence', { type: 'unavailable', from: s.fullJid }));
    }
  }

  /** A session ended: its contacts, its other resources and its directed targets see it leave. */
  async sessionEnded(session: C2SSession): Promise<void> {
    const state = this.#sessions.get(session);
    if (!state) return;
    this.#sessions.delete(session);
    if (!state.available) {
      for (const to of state.directed) this.deliver(to, el('presence', { type: 'unavailable', from: session.fullJid }));
      return;
    }
    await this.#sendUnavailable(session, el('presence', { type: 'unavailable' }), state.directed);
  }

  // ---- sessions on other gateway nodes -------------------------------------------------

  snapshot(session: C2SSession): PresenceSnapshot {
    const state = this.#sessions.get(session);
    return { available: state?.available ?? false, priority: state?.priority ?? 0, presence: state?.available ? state.presence : undefined };
  }

  /** What the session's node told us of its presence (that node has sent the broadcasts). */
  mirror(remote: SessionRef, snapshot: PresenceSnapshot): void {
    const state = this.#of(remote);
    state.available = snapshot.available;
    state.priority = snapshot.priority;
    state.presence = snapshot.available ? snapshot.presence : undefined;
  }

  /**
   * A session on another node is known here only now while it was available before (the nodes
   * lost sight of each other, or met late): this node's watchers get its presence.
   */
  async presentRemote(remote: SessionRef): Promise<void> {
    const current = this.#current(remote);
    if (!current) return;
    const outgoing = this.#decorate(remote.username!, current, remote.fullJid);
    for (const target of await this.#audience(remote.username!)) if (target.node === undefined) target.send(withTo(outgoing, target.fullJid));
  }

  /** A session on another node vanished with its node: this node's watchers see it leave. */
  async remoteGone(remote: SessionRef): Promise<void> {
    const state = this.#sessions.get(remote);
    this.#sessions.delete(remote);
    if (!state?.available) return;
    const out = el('presence', { type: 'unavailable', from: remote.fullJid });
    for (const target of await this.#audience(remote.username!)) if (target.node === undefined) target.send(withTo(out, target.fullJid));
  }

  isInCall(user: string): boolean {
    return this.#inCall.has(user);
  }

  /** Unified presence: the SIP side reports a user's call starting or ending. */
  setInCall(user: string, inCall: boolean): void {
    if (inCall === this.#inCall.has(user)) return;
    if (inCall) this.#inCall.add(user);
    else this.#inCall.delete(user);
    void this.#rebroadcast(user).catch((err: unknown) => this.ctx.logger.error({ err }, 'XMPP in-call presence failed'));
  }

  async #rebroadcast(user: string): Promise<void> {
    const audience = await this.#audience(user);
    // Each node speaks for its own sessions (every node hears of the call).
    for (const s of this.ctx.sessionsOf(user)) {
      const current = s.node === undefined ? this.#current(s) : undefined;
      if (!current) continue;
      const outgoing = this.#decorate(user, current, s.fullJid);
      for (const target of audience) target.send(withTo(outgoing, target.fullJid));
    }
  }

  /** Sessions that see `user`'s broadcast presence: subscribers' and the user's own. */
  async #audience(user: string): Promise<SessionRef[]> {
    const subscribers = await this.roster.subscribers(user);
    const out: SessionRef[] = [];
    for (const s of this.ctx.sessionsOf(user)) if (this.isAvailable(s)) out.push(s);
    for (const contact of subscribers) {
      const contactUser = localUser(this.ctx, contact);
      if (!contactUser) continue;
      for (const s of this.ctx.sessionsOf(contactUser)) if (this.isAvailable(s)) out.push(s);
    }
    return out;
  }

  async #sendUnavailable(session: C2SSession, presence: Element, directed = this.#of(session).directed): Promise<void> {
    const user = session.username!;
    const out = withFrom(presence, session.fullJid);
    delete out.attrs.to;
    const targets = new Set((await this.#audience(user)).map((s) => s.fullJid));
    targets.add(session.fullJid);
    for (const jid of targets) this.ctx.sessionByJid(jid)?.send(withTo(out, jid));
    for (const to of directed) this.deliver(to, out);
    directed.clear();
  }

  /** The presence others see: `from` stamped, and the call overlay while in a SIP call. */
  #decorate(user: string, presence: Element, from: string): Element {
    const out = withFrom(presence, from);
    if (!this.#inCall.has(user)) return out;
    const status = child(out, 'status')?.getText();
    out.children = out.children.filter((c) => typeof c === 'string' || (c.name !== 'show' && c.name !== 'status'));
    out.cnode(el('show', {}, 'dnd'));
    out.cnode(el('status', {}, status ? `${IN_A_CALL} · ${status}` : IN_A_CALL));
    out.cnode(el(IN_CALL_ELEMENT, { xmlns: PARLEY_NS.call }));
    return out;
  }
}

function clampPriority(p: number): number {
  return Number.isFinite(p) ? Math.max(-128, Math.min(127, Math.trunc(p))) : 0;
}

function withFrom(e: Element, from: string): Element {
  const c = clone(e);
  c.attrs.from = from;
  return c;
}

function withTo(e: Element, to: string): Element {
  const c = clone(e);
  c.attrs.to = to;
  return c;
}
