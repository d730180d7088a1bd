/**
 * Roster management and the presence subscription state machine (RFC 6121 §2–§3, Appendix A),
 * for users of this server on both ends: none/to/from/both, pending in and out, roster pushes
 * to every resource, and the presence that must follow each change.
 */
import type { Element } from 'ltx';
import { bareOf, parseJid } from '../core/jid.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { clone, child, childElements, el, stanzaError } from '../core/xml.js';
import type { PresenceService } from '../presence/presenceService.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import { localUser, type XmppContext } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';
import type { RosterItem, RosterStore, Subscription } from './rosterStore.js';

const MAX_NAME = 200;
const MAX_GROUPS = 20;

export class RosterService implements XmppService {
  constructor(
    private readonly ctx: XmppContext,
    private readonly store: RosterStore,
    private readonly presence: PresenceService,
  ) {}

  register(host: XmppServiceHost): void {
    host.onIq('self', NS.roster, (session, iq, query) => this.handleIq(session, iq, query));
    // A user who comes online sees the contact requests that waited for them (RFC 6121 §3.1.3).
    host.onInitialPresence((session) => {
      for (const request of this.pendingRequests(session.username!)) {
        request.attrs.to = session.bareJid;
        session.send(request);
      }
    });
    // The cached roster goes with the user's last session.
    host.onSessionEnded((session) => {
      const user = session.username!;
      if (!this.ctx.sessionsOf(user).length) this.store.evict(user);
    });
  }

  /** jabber:iq:roster get/set from a client. */
  handleIq(session: C2SSession, iq: Element, query: Element): void {
    const user = session.username!;
    const ownBare = session.bareJid;
    if (iq.attrs.to && bareOf(iq.attrs.to) !== ownBare) {
      session.send(stanzaError(iq, 'auth', 'forbidden', 'You can only manage your own roster'));
      return;
    }
    if (iq.attrs.type === 'get') {
      const items = [...this.store.items(user).values()].filter((i) => i.inRoster).map(itemElement);
      session.send(el('iq', { type: 'result', id: iq.attrs.id, to: session.fullJid }, el('query', { xmlns: NS.roster }, ...items)));
      return;
    }
    if (iq.attrs.type !== 'set') {
      session.send(stanzaError(iq, 'modify', 'bad-request'));
      return;
    }
    const items = childElements(query).filter((c) => c.name === 'item');
    if (items.length !== 1) {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'A roster set carries exactly one item'));
      return;
    }
    const itemEl = items[0];
    const jid = parseJid(itemEl.attrs.jid);
    if (!jid || !jid.isBare) {
      session.send(stanzaError(iq, 'modify', 'jid-malformed'));
      return;
    }
    const contact = jid.bare;
    if (contact === ownBare) {
      session.send(stanzaError(iq, 'cancel', 'not-allowed', 'You cannot add yourself'));
      return;
    }
    if (itemEl.attrs.subscription === 'remove') {
      this.#remove(user, contact);
      session.send(el('iq', { type: 'result', id: iq.attrs.id, to: session.fullJid }));
      return;
    }
    const groups = childElements(itemEl)
      .filter((g) => g.name === 'group')
      .map((g) => g.getText().trim())
      .filter(Boolean);
    if (groups.length > MAX_GROUPS || new Set(groups).size !== groups.length || (itemEl.attrs.name ?? '').length > MAX_NAME) {
      session.send(stanzaError(iq, 'modify', 'not-acceptable'));
      return;
    }
    const existing = this.store.get(user, contact);
    const item: RosterItem = {
      contact,
      name: itemEl.attrs.name || undefined,
      subscription: existing?.subscription ?? 'none',
      ask: existing?.ask ?? false,
      pendingIn: existing?.pendingIn ?? false,
      inRoster: true,
      groups,
    };
    this.store.put(user, item);
    session.send(el('iq', { type: 'result', id: iq.attrs.id, to: session.fullJid }));
    this.#push(user, item);
  }

  /** A subscription presence (subscribe, subscribed, unsubscribe, unsubscribed) sent by `session`. */
  async handleSubscription(session: C2SSession, presence: Element, to: string): Promise<void> {
    const user = session.username!;
    const contact = bareOf(to);
    const from = session.bareJid;
    const type = presence.attrs.type as 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';
    const contactUser = localUser(this.ctx, contact);
    if (contact === from) return;
    // Look names up first: everything after this line is synchronous, so two subscription
    // stanzas from one client can never interleave and overwrite each other's changes.
    const names =
      contactUser && (type === 'subscribe' || type === 'subscribed')
        ? { contact: await this.ctx.displayName(contactUser), me: await this.ctx.displayName(user) }
        : undefined;
    const mine = this.#item(user, contact);
    if (names) {
      // Items that come from a subscription get the other person's display name, as a directory would.
      if (!mine.name && names.contact && names.contact !== contactUser) mine.name = names.contact;
      const theirs = this.store.get(contactUser!, from);
      if (theirs && !theirs.name && names.me && names.me !== user) this.store.put(contactUser!, { ...theirs, name: names.me });
    }
    switch (type) {
      case 'subscribe': {
        // Outbound: mark pending-out (unless already subscribed) and push.
        if (mine.subscription !== 'to' && mine.subscription !== 'both' && !mine.ask) {
          this.#update(user, { ...mine, ask: true, inRoster: true });
        } else if (!mine.inRoster) this.#update(user, { ...mine, inRoster: true });
        if (!contactUser) return;
        const theirs = this.#item(contactUser, from);
        if (theirs.subscription === 'from' || theirs.subscription === 'both') {
          // Already approved: the server answers for the contact (RFC 6121 §3.1.3).
          this.#inboundSubscribed(user, contactUser, contact);
          return;
        }
        if (!theirs.pendingIn) this.#update(contactUser, { ...theirs, pendingIn: true }, false);
        const request = el('presence', { type: 'subscribe', from, to: contact });
        const nick = child(presence, 'nick', 'http://jabber.org/protocol/nick');
        if (nick) request.cnode(clone(nick));
        this.presence.deliver(contact, request);
        return;
      }
      case 'subscribed': {
        // user approves contact's request: user's item gains "from".
        if (!contactUser) return;
        if (!mine.pendingIn && mine.subscription !== 'none' && mine.subscription !== 'to') return; // nothing to approve
        const sub: Subscription = mine.subscription === 'to' ? 'both' : mine.subscription === 'none' ? 'from' : mine.subscription;
        this.#update(user, { ...mine, subscription: sub, pendingIn: false, inRoster: true });
        this.#inboundSubscribed(contactUser, user, from);
        return;
      }
      case 'unsubscribe': {
        // user stops seeing contact's presence.
        const sub: Subscription = mine.subscription === 'both' ? 'from' : mine.subscription === 'to' ? 'none' : mine.subscription;
        if (sub !== mine.subscription || mine.ask) this.#update(user, { ...mine, subscription: sub, ask: false });
        if (!contactUser) return;
        const theirs = this.#item(contactUser, from);
        const theirSub: Subscription = theirs.subscription === 'both' ? 'to' : theirs.subscription === 'from' ? 'none' : theirs.subscription;
        if (theirSub !== theirs.subscription || theirs.pendingIn) {
          this.#update(contactUser, { ...theirs, subscription: theirSub, pendingIn: false });
          this.presence.deliver(contact, el('presence', { type: 'unsubscribe', from, to: contact }));
        }
        this.presence.sendUnavailableTo(contactUser, from);
        return;
      }
      case 'unsubscribed': {
        // user denies or revokes contact's subscription to user's presence.
        const sub: Subscription = mine.subscription === 'both' ? 'to' : mine.subscription === 'from' ? 'none' : mine.subscription;
        const had = mine.subscription === 'from' || mine.subscription === 'both';
        if (sub !== mine.subscription || mine.pendingIn) this.#update(user, { ...mine, subscription: sub, pendingIn: false });
        if (!contactUser) return;
        const theirs = this.#item(contactUser, from);
        const theirSub: Subscription = theirs.subscription === 'both' ? 'from' : theirs.subscription === 'to' ? 'none' : theirs.subscription;
        if (theirSub !== theirs.subscription || theirs.ask) {
          this.#update(contactUser, { ...theirs, subscription: theirSub, ask: false });
          this.presence.deliver(contact, el('presence', { type: 'unsubscribed', from, to: contact }));
        }
        if (had) this.presence.sendUnavailableTo(user, contact);
        return;
      }
    }
  }

  /** Subscription requests waiting for `user`, re-sent when they come online (RFC 6121 §3.1.3). */
  pendingRequests(user: string): Element[] {
    const out: Element[] = [];
    for (const item of this.store.items(user).values()) {
      if (item.pendingIn) out.push(el('presence', { type: 'subscribe', from: item.contact }));
    }
    return out;
  }

  /**
   * Whether `recipient` accepts messages from `senderBare`: the recipient granted the sender a
   * subscription to their presence, or has them in the roster (they added the sender themselves).
   */
  acceptsMessagesFrom(recipient: string, senderBare: string): boolean {
    const item = this.store.get(recipient, senderBare);
    if (!item) return false;
    return item.subscription === 'from' || item.subscription === 'both' || (item.inRoster && item.ask) || item.subscription === 'to';
  }

  /** `approver` (contact) accepted `requester`'s request: both sides updated, presence flows. */
  #inboundSubscribed(requester: string, approver: string, approverBare: string): void {
    const requesterBare = `${requester}@${this.ctx.domain}`;
    const theirs = this.#item(approver, requesterBare);
    if (theirs.subscription === 'none' || theirs.subscription === 'to' || theirs.pendingIn) {
      const sub: Subscription = theirs.subscription === 'to' ? 'both' : theirs.subscription === 'none' ? 'from' : theirs.subscription;
      this.#update(approver, { ...theirs, subscription: sub, pendingIn: false });
    }
    const req = this.#item(requester, approverBare);
    const sub: Subscription = req.subscription === 'from' ? 'both' : req.subscription === 'none' ? 'to' : req.subscription;
    this.#update(requester, { ...req, subscription: sub, ask: false, inRoster: true });
    this.presence.deliver(requesterBare, el('presence', { type: 'subscribed', from: approverBare, to: requesterBare }));
    this.presence.sendCurrentPresence(approver, requesterBare);
  }

  #remove(user: string, contact: string): void {
    const item = this.store.get(user, contact);
    if (!item) return;
    const ownBare = `${user}@${this.ctx.domain}`;
    const contactUser = localUser(this.ctx, contact);
    // Removing an item cancels subscriptions both ways (RFC 6121 §2.5.2).
    if (contactUser) {
      const theirs = this.store.get(contactUser, ownBare);
      if (theirs) {
        const wasSubscribedToMe = theirs.subscription === 'to' || theirs.subscription === 'both';
        const sawThem = theirs.subscription === 'from' || theirs.subscription === 'both';
        const theirSub: Subscription = 'none';
        if (theirs.subscription !== theirSub || theirs.ask || theirs.pendingIn) {
          this.#update(contactUser, { ...theirs, subscription: theirSub, ask: false, pendingIn: false });
        }
        if (wasSubscribedToMe) this.presence.sendUnavailableTo(user, contact);
        if (sawThem) this.presence.sendUnavailableTo(contactUser, ownBare);
        if (item.subscription !== 'none' || item.ask) {
          this.presence.deliver(contact, el('presence', { type: 'unsubscribe', from: ownBare, to: contact }));
          this.presence.deliver(contact, el('presence', { type: 'unsubscribed', from: ownBare, to: contact }));
        }
      }
    }
    this.store.remove(user, contact);
    this.#pushRemoved(user, contact);
  }

  #item(user: string, contact: string): RosterItem {
    return this.store.get(user, contact) ?? { contact, subscription: 'none', ask: false, pendingIn: false, inRoster: false, groups: [] };
  }

  #update(user: string, item: RosterItem, push = true): void {
    this.store.put(user, item);
    if (push && item.inRoster) this.#push(user, item);
  }

  #push(user: string, item: RosterItem): void {
    for (const s of this.ctx.sessionsOf(user)) {
      s.send(el('iq', { type: 'set', id: `push-${Date.now().toString(36)}`, to: s.fullJid }, el('query', { xmlns: NS.roster }, itemElement(item))));
    }
  }

  #pushRemoved(user: string, contact: string): void {
    for (const s of this.ctx.sessionsOf(user)) {
      s.send(el('iq', { type: 'set', id: `push-${Date.now().toString(36)}`, to: s.fullJid }, el('query', { xmlns: NS.roster }, el('item', { jid: contact, subscription: 'remove' }))));
    }
  }
}

function itemElement(item: RosterItem): Element {
  return el(
    'item',
    { jid: item.contact, name: item.name, subscription: item.subscription, ask: item.ask ? 'subscribe' : undefined },
    ...item.groups.map((g) => el('group', {}, g)),
  );
}
