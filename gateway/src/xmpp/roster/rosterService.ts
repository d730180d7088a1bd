/**
 * Roster management and the presence subscription state machine (RFC 6121 §2–§3, Appendix A),
 * for users of this server on both ends: none/to/from/both, pending in and out, roster pushes
 * to every resource, and the presence that must follow each change.
 *
 * Each change reads and writes both sides of a pair (the user's item for the contact, and the
 * contact's item for the user) in one transaction with the rows locked (RosterStore.modify),
 * so two devices — or two gateways — changing the same pair at once serialize instead of
 * overwriting each other. Pushes and presence follow only after the change is committed.
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

function emptyItem(contact: string): RosterItem {
  return { contact, subscription: 'none', ask: false, pendingIn: false, inRoster: false, groups: [] };
}

/** The two sides of one subscription being changed, and what to do once it is committed. */
class PairChange {
  readonly items: [RosterItem, RosterItem];
  readonly changed: [boolean, boolean] = [false, false];
  readonly effects: Array<() => void> = [];

  constructor(
    readonly owners: [string, string | undefined],
    found: Array<RosterItem | undefined>,
    contacts: [string, string],
    private readonly push: (user: string, item: RosterItem) => void,
  ) {
    this.items = [found[0] ?? emptyItem(contacts[0]), found[1] ?? emptyItem(contacts[1])];
  }

  update(side: 0 | 1, item: RosterItem, push = true): void {
    this.items[side] = item;
    this.changed[side] = true;
    const owner = this.owners[side];
    if (push && item.inRoster && owner) this.effects.push(() => this.push(owner, item));
  }

  after(effect: () => void): void {
    this.effects.push(effect);
  }

  get writes(): Array<RosterItem | undefined> {
    return [this.changed[0] ? this.items[0] : undefined, this.changed[1] ? this.items[1] : undefined];
  }
}

export class RosterService implements XmppService {
  constructor(
    private readonly ctx: XmppContext,
    private readonly store: RosterStore,
    private readonly presence: PresenceService,
  ) {}

  register(host: XmppServiceHost): void {
    host.onIq('self', NS.roster, (session, iq, query) => this.handleIq(session, iq, query));
    // A user who comes online sees the contact requests that waited for them (RFC 6121 §3.1.3).
    host.onInitialPresence(async (session) => {
      for (const request of await this.pendingRequests(session.username!)) {
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
  async handleIq(session: C2SSession, iq: Element, query: Element): Promise<void> {
    const user = session.username!;
    const ownBare = session.bareJid;
    if (iq.attrs.to && bareOf(iq.attrs.to) !== ownBare) {
      session.send(stanzaError(iq, 'auth', 'forbidden', 'You can only manage your own roster'));
      return;
    }
    if (iq.attrs.type === 'get') {
      const items = [...(await this.store.items(user)).values()].filter((i) => i.inRoster).map(itemElement);
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
      await this.#remove(user, contact);
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
    // Name and groups are the client's; the subscription state stays what the database holds.
    const item = await this.store.modify([{ owner: user, contact }], ([existing]) => {
      const next: RosterItem = { ...(existing ?? emptyItem(contact)), name: itemEl.attrs.name || undefined, inRoster: true, groups };
      return { writes: [next], result: next };
    });
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
    const names =
      contactUser && (type === 'subscribe' || type === 'subscribed')
        ? { contact: await this.ctx.displayName(contactUser), me: await this.ctx.displayName(user) }
        : undefined;
    const keys = [{ owner: user, contact }];
    if (contactUser) keys.push({ owner: contactUser, contact: from });
    const effects = await this.store.modify(keys, (found) => {
      const pair = new PairChange([user, contactUser], found, [contact, from], (u, i) => this.#push(u, i));
      this.#subscription(pair, type, presence, { user, contact, from, contactUser, names, theirsExists: found[1] !== undefined });
      return { writes: pair.writes, result: pair.effects };
    });
    for (const effect of effects) effect();
  }

  /** The state machine of RFC 6121 Appendix A on both sides of the pair (side 0: the sender's item). */
  #subscription(
    pair: PairChange,
    type: 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed',
    presence: Element,
    o: {
      user: string;
      contact: string;
      from: string;
      contactUser: string | undefined;
      names: { contact: string | undefined; me: string | undefined } | undefined;
      theirsExists: boolean;
    },
  ): void {
    const { user, contact, from, contactUser, names } = o;
    if (names) {
      // Items that come from a subscription get the other person's display name, as a directory would.
      const mine = pair.items[0];
      if (!mine.name && names.contact && names.contact !== contactUser) pair.items[0] = { ...mine, name: names.contact };
      const theirs = pair.items[1];
      if (o.theirsExists && !theirs.name && names.me && names.me !== user) pair.update(1, { ...theirs, name: names.me }, false);
    }
    const mine = pair.items[0];
    switch (type) {
      case 'subscribe': {
        // Outbound: mark pending-out (unless already subscribed) and push.
        if (mine.subscription !== 'to' && mine.subscription !== 'both' && !mine.ask) {
          pair.update(0, { ...mine, ask: true, inRoster: true });
        } else if (!mine.inRoster) pair.update(0, { ...mine, inRoster: true });
        if (!contactUser) return;
        const theirs = pair.items[1];
        if (theirs.subscription === 'from' || theirs.subscription === 'both') {
          // Already approved: the server answers for the contact (RFC 6121 §3.1.3).
          this.#inboundSubscribed(pair, 0, 1);
          return;
        }
        if (!theirs.pendingIn) pair.update(1, { ...theirs, pendingIn: true }, false);
        const request = el('presence', { type: 'subscribe', from, to: contact });
        // The asker's name as they give it (XEP-0172), else their display name here, so the
        // request can say who asks rather than a user name (any client shows it).
        const nick = child(presence, 'nick', NS.nick);
        if (nick) request.cnode(clone(nick));
        else if (names?.me && names.me !== user) request.cnode(el('nick', { xmlns: NS.nick }, names.me));
        pair.after(() => this.presence.deliver(contact, request));
        return;
      }
      case 'subscribed': {
        // user approves contact's request: user's item gains "from".
        if (!contactUser) return;
        if (!mine.pendingIn && mine.subscription !== 'none' && mine.subscription !== 'to') return; // nothing to approve
        const sub: Subscription = mine.subscription === 'to' ? 'both' : mine.subscription === 'none' ? 'from' : mine.subscription;
        pair.update(0, { ...mine, subscription: sub, pendingIn: false, inRoster: true });
        this.#inboundSubscribed(pair, 1, 0);
        return;
      }
      case 'unsubscribe': {
        // user stops seeing contact's presence.
        const sub: Subscription = mine.subscription === 'both' ? 'from' : mine.subscription === 'to' ? 'none' : mine.subscription;
        if (sub !== mine.subscription || mine.ask) pair.update(0, { ...mine, subscription: sub, ask: false });
        if (!contactUser) return;
        const theirs = pair.items[1];
        const theirSub: Subscription = theirs.subscription === 'both' ? 'to' : theirs.subscription === 'from' ? 'none' : theirs.subscription;
        if (theirSub !== theirs.subscription || theirs.pendingIn) {
          pair.update(1, { ...theirs, subscription: theirSub, pendingIn: false });
          pair.after(() => this.presence.deliver(contact, el('presence', { type: 'unsubscribe', from, to: contact })));
        }
        pair.after(() => this.presence.sendUnavailableTo(contactUser, from));
        return;
      }
      case 'unsubscribed': {
        // user denies or revokes contact's subscription to user's presence.
        const sub: Subscription = mine.subscription === 'both' ? 'to' : mine.subscription === 'from' ? 'none' : mine.subscription;
        const had = mine.subscription === 'from' || mine.subscription === 'both';
        if (sub !== mine.subscription || mine.pendingIn) pair.update(0, { ...mine, subscription: sub, pendingIn: false });
        if (!contactUser) return;
        const theirs = pair.items[1];
        const theirSub: Subscription = theirs.subscription === 'both' ? 'from' : theirs.subscription === 'to' ? 'none' : theirs.subscription;
        if (theirSub !== theirs.subscription || theirs.ask) {
          pair.update(1, { ...theirs, subscription: theirSub, ask: false });
          pair.after(() => this.presence.deliver(contact, el('presence', { type: 'unsubscribed', from, to: contact })));
        }
        if (had) pair.after(() => this.presence.sendUnavailableTo(user, contact));
        return;
      }
    }
  }

  /** Subscription requests waiting for `user`, re-sent when they come online (RFC 6121 §3.1.3). */
  async pendingRequests(user: string): Promise<Element[]> {
    const out: Element[] = [];
    for (const item of (await this.store.items(user)).values()) {
      if (!item.pendingIn) continue;
      const request = el('presence', { type: 'subscribe', from: item.contact });
      const asker = localUser(this.ctx, item.contact);
      const name = asker ? await this.ctx.displayName(asker) : undefined;
      if (name && name !== asker) request.cnode(el('nick', { xmlns: NS.nick }, name));
      out.push(request);
    }
    return out;
  }

  /**
   * Whether `recipient` accepts messages from `senderBare`: the recipient granted the sender a
   * subscription to their presence, or has them in the roster (they added the sender themselves).
   */
  async acceptsMessagesFrom(recipient: string, senderBare: string): Promise<boolean> {
    const item = await this.store.get(recipient, senderBare);
    if (!item) return false;
    return item.subscription === 'from' || item.subscription === 'both' || (item.inRoster && item.ask) || item.subscription === 'to';
  }

  /** The approver accepted the requester's request: both sides updated, presence flows once committed. */
  #inboundSubscribed(pair: PairChange, requesterSide: 0 | 1, approverSide: 0 | 1): void {
    const requester = pair.owners[requesterSide]!;
    const approver = pair.owners[approverSide]!;
    const requesterBare = `${requester}@${this.ctx.domain}`;
    const approverBare = `${approver}@${this.ctx.domain}`;
    // The approver's item for the requester, and the requester's item for the approver.
    const theirs = pair.items[approverSide];
    if (theirs.subscription === 'none' || theirs.subscription === 'to' || theirs.pendingIn) {
      const sub: Subscription = theirs.subscription === 'to' ? 'both' : theirs.subscription === 'none' ? 'from' : theirs.subscription;
      pair.update(approverSide, { ...theirs, subscription: sub, pendingIn: false });
    }
    const req = pair.items[requesterSide];
    const sub: Subscription = req.subscription === 'from' ? 'both' : req.subscription === 'none' ? 'to' : req.subscription;
    pair.update(requesterSide, { ...req, subscription: sub, ask: false, inRoster: true });
    pair.after(() => {
      this.presence.deliver(requesterBare, el('presence', { type: 'subscribed', from: approverBare, to: requesterBare }));
      this.presence.sendCurrentPresence(approver, requesterBare);
    });
  }

  async #remove(user: string, contact: string): Promise<void> {
    const ownBare = `${user}@${this.ctx.domain}`;
    const contactUser = localUser(this.ctx, contact);
    const keys = [{ owner: user, contact }];
    if (contactUser) keys.push({ owner: contactUser, contact: ownBare });
    const effects = await this.store.modify(keys, (found) => {
      const pair = new PairChange([user, contactUser], found, [contact, ownBare], (u, i) => this.#push(u, i));
      const item = found[0];
      if (!item) return { writes: [], result: pair.effects };
      // Removing an item cancels subscriptions both ways (RFC 6121 §2.5.2).
      const theirs = found[1];
      if (contactUser && theirs) {
        const wasSubscribedToMe = theirs.subscription === 'to' || theirs.subscription === 'both';
        const sawThem = theirs.subscription === 'from' || theirs.subscription === 'both';
        if (theirs.subscription !== 'none' || theirs.ask || theirs.pendingIn) {
          pair.update(1, { ...theirs, subscription: 'none', ask: false, pendingIn: false });
        }
        if (wasSubscribedToMe) pair.after(() => this.presence.sendUnavailableTo(user, contact));
        if (sawThem) pair.after(() => this.presence.sendUnavailableTo(contactUser, ownBare));
        if (item.subscription !== 'none' || item.ask) {
          pair.after(() => {
            this.presence.deliver(contact, el('presence', { type: 'unsubscribe', from: ownBare, to: contact }));
            this.presence.deliver(contact, el('presence', { type: 'unsubscribed', from: ownBare, to: contact }));
          });
        }
      }
      pair.update(0, emptyItem(contact), false);
      pair.after(() => this.#pushRemoved(user, contact));
      return { writes: pair.writes, result: pair.effects };
    });
    for (const effect of effects) effect();
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
