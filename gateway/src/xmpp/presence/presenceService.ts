/**
 * Presence (RFC 6121 §4): broadcast to the contacts allowed to see it, probes on initial
 * presence, directed presence, unavailable when a session ends — and unified presence: while a
 * user is in a SIP call their broadcast presence shows "do not disturb · In a call".
 */
import type { Element } from 'ltx';
import { NS } from '../core/namespaces.js';
import { clone, child, el } from '../core/xml.js';
import type { RosterStore } from '../roster/rosterStore.js';
import { localUser, type XmppContext } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';

export interface PresenceHooks {
  /** The session sent its first available presence: time to hand it what waited for it. */
  initialPresence(session: C2SSession): void;
}

export const IN_A_CALL = 'In a call';

export class PresenceService {
  readonly #inCall = new Set<string>();

  constructor(
    private readonly ctx: XmppContext,
    private readonly roster: RosterStore,
    private readonly hooks: PresenceHooks,
  ) {}

  /** A presence stanza from a client without `to` (broadcast) — available or unavailable. */
  broadcastFrom(session: C2SSession, presence: Element): void {
    const type = presence.attrs.type;
    if (type !== undefined && type !== 'unavailable') return; // probes and errors from clients are dropped
    const user = session.username!;
    if (type === 'unavailable') {
      const wasAvailable = session.available;
      session.available = false;
      session.presence = undefined;
      if (wasAvailable) this.#sendUnavailable(session, presence);
      return;
    }
    const first = !session.available;
    const clean = clone(presence);
    delete clean.attrs.to;
    delete clean.attrs.from;
    delete clean.attrs.id;
    session.presence = clean;
    session.priority = clampPriority(Number(child(clean, 'priority')?.getText() ?? 0));
    session.available = true;
    const outgoing = this.#decorate(user, clean, session.fullJid);
    for (const target of this.#audience(user)) target.send(withTo(outgoing, target.fullJid));
    if (first) {
      // Probe: what the user may see of each contact, from every available resource.
      for (const contact of this.roster.subscriptions(user)) {
        const contactUser = localUser(this.ctx, contact);
        if (!contactUser) continue;
        for (const s of this.ctx.sessionsOf(contactUser)) {
          if (s.available && s.presence) session.send(withTo(this.#decorate(contactUser, s.presence, s.fullJid), session.fullJid));
        }
      }
      this.hooks.initialPresence(session);
    }
  }

  /** Directed presence to one JID (RFC 6121 §4.6): remembered, so it can be revoked at the end. */
  directedFrom(session: C2SSession, presence: Element, to: string): void {
    const type = presence.attrs.type;
    if (type !== undefined && type !== 'unavailable') return;
    if (type === 'unavailable') session.directedPresence.delete(to);
    else session.directedPresence.add(to);
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
    for (const s of this.ctx.sessionsOf(user)) if (s.available) s.send(withTo(presence, s.fullJid));
  }

  /** Sends the current presence of `user`'s available resources to `toBare` (after subscribed). */
  sendCurrentPresence(user: string, toBare: string): void {
    for (const s of this.ctx.sessionsOf(user)) {
      if (s.available && s.presence) this.deliver(toBare, withFrom(this.#decorate(user, s.presence, s.fullJid), s.fullJid));
    }
  }

  /** Tells `toBare` that `user`'s resources are gone for them (after unsubscribe). */
  sendUnavailableTo(user: string, toBare: string): void {
    for (const s of this.ctx.sessionsOf(user)) {
      if (s.available) this.deliver(toBare, el('presence', { type: 'unavailable', from: s.fullJid }));
    }
  }

  /** A session ended: its contacts, its other resources and its directed targets see it leave. */
  sessionEnded(session: C2SSession): void {
    if (!session.available) {
      for (const to of session.directedPresence) this.deliver(to, el('presence', { type: 'unavailable', from: session.fullJid }));
      return;
    }
    session.available = false;
    session.presence = undefined;
    this.#sendUnavailable(session, el('presence', { type: 'unavailable' }));
  }

  isInCall(user: string): boolean {
    return this.#inCall.has(user);
  }

  /** Unified presence: the SIP side reports a user's call starting or ending. */
  setInCall(user: string, inCall: boolean): void {
    if (inCall === this.#inCall.has(user)) return;
    if (inCall) this.#inCall.add(user);
    else this.#inCall.delete(user);
    for (const s of this.ctx.sessionsOf(user)) {
      if (!s.available || !s.presence) continue;
      const outgoing = this.#decorate(user, s.presence, s.fullJid);
      for (const target of this.#audience(user)) target.send(withTo(outgoing, target.fullJid));
    }
  }

  /** Sessions that see `user`'s broadcast presence: subscribers' and the user's own. */
  #audience(user: string): C2SSession[] {
    const out: C2SSession[] = [];
    for (const s of this.ctx.sessionsOf(user)) if (s.available) out.push(s);
    for (const contact of this.roster.subscribers(user)) {
      const contactUser = localUser(this.ctx, contact);
      if (!contactUser) continue;
      for (const s of this.ctx.sessionsOf(contactUser)) if (s.available) out.push(s);
    }
    return out;
  }

  #sendUnavailable(session: C2SSession, presence: Element): void {
    const user = session.username!;
    const out = withFrom(presence, session.fullJid);
    delete out.attrs.to;
    const targets = new Set(this.#audience(user).map((s) => s.fullJid));
    targets.add(session.fullJid);
    for (const jid of targets) this.ctx.sessionByJid(jid)?.send(withTo(out, jid));
    for (const to of session.directedPresence) this.deliver(to, out);
    session.directedPresence.clear();
  }

  /** The presence others see: `from` stamped, and the call overlay while in a SIP call. */
  #decorate(user: string, presence: Element, from: string): Element {
    const out = withFrom(presence, from);
    if (!this.#inCall.has(user)) return out;
    const status = child(out, 'status')?.getText();
    out.children = out.children.filter((c) => typeof c === 'string' || (c.name !== 'show' && c.name !== 'status'));
    out.cnode(el('show', {}, 'dnd'));
    out.cnode(el('status', {}, status ? `${IN_A_CALL} · ${status}` : IN_A_CALL));
    out.cnode(el('call', { xmlns: NS.parleyCall }));
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
