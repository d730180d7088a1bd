/**
 * Multi-User Chat (XEP-0045) on conference.<domain>: create by joining, join with history,
 * leave, mediated invitations, members-only and public rooms, persistent rooms (stored records),
 * moderator kick, affiliations, room configuration, and the room archive (MAM).
 *
 * Rooms are non-anonymous: in an organisation everyone sees who is in a room (status 100).
 */
import type { Element } from 'ltx';
import { parse as parseXml } from 'ltx';
import type { ArchiveStore } from '../../storage/archive/archiveStore.js';
import type { MucRoomRecords } from '../../storage/records/mucRoomRecords.js';
import { parseJid, type Jid } from '../core/jid.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { clone, child, childElements, el, isoStamp, stanzaError, textOf } from '../core/xml.js';
import type { MamService } from '../im/mamService.js';
import type { MessageService } from '../im/messageService.js';
import { hasBody } from '../im/messageService.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import { localUser, type SessionRef, type XmppContext } from '../router/xmppContext.js';
import { DEFAULT_CONFIG, Room, type Affiliation, type Occupant, type RoomConfig } from './room.js';

const MAX_NICK = 64;

export class MucService implements XmppService {
  readonly #rooms = new Map<string, Room>();
  /** Each room's writes, one after another, so the last change is the one stored. */
  readonly #writes = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: XmppContext,
    private readonly records: MucRoomRecords,
    private readonly archive: ArchiveStore,
    private readonly mam: MamService,
    private readonly messages: MessageService,
    private readonly historySize: number,
  ) {}

  /** Loads the persistent rooms (at start, before clients connect). */
  async load(): Promise<void> {
    for (const row of await this.records.all()) {
      const room = new Room(row.jid, JSON.parse(row.config) as RoomConfig, new Map(Object.entries(JSON.parse(row.affiliations) as Record<string, Affiliation>)));
      room.subject = row.subject ? (JSON.parse(row.subject) as Room['subject']) : undefined;
      this.#rooms.set(row.jid, room);
    }
  }

  /**
   * Reads a persistent room again from its record (this node took the room over from a dead
   * one, whose changes this node's copy does not have); a temporary room starts afresh.
   */
  async reload(jid: string): Promise<void> {
    const row = (await this.records.all()).find((r) => r.jid === jid);
    this.#rooms.delete(jid);
    if (!row) return;
    const room = new Room(row.jid, JSON.parse(row.config) as RoomConfig, new Map(Object.entries(JSON.parse(row.affiliations) as Record<string, Affiliation>)));
    room.subject = row.subject ? (JSON.parse(row.subject) as Room['subject']) : undefined;
    this.#rooms.set(row.jid, room);
  }

  register(host: XmppServiceHost): void {
    host.addComponent({
      domain: this.ctx.mucDomain,
      name: 'Group chats',
      iq: (session, iq, to) => this.handleIq(session, iq, to),
      message: (session, message, to) => this.handleMessage(session, message, to),
      presence: (session, presence, to) => this.handlePresence(session, presence, to),
    });
    host.onSessionEnded((session) => this.sessionEnded(session));
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  room(jid: string): Room | undefined {
    return this.#rooms.get(jid);
  }

  // ---- presence: join, leave, nick change ---------------------------------------------

  handlePresence(session: SessionRef, presence: Element, to: Jid): void {
    const roomJid = to.bare;
    const room = this.#rooms.get(roomJid);
    const type = presence.attrs.type;
    if (type === 'unavailable') {
      if (room) this.#leave(room, session, presence);
      return;
    }
    if (type !== undefined) return; // subscriptions and probes to rooms are ignored
    const nick = to.resource;
    if (!nick || nick.length > MAX_NICK) {
      session.send(stanzaError(presence, 'modify', 'jid-malformed', 'Join a room as room@service/nickname'));
      return;
    }
    if (!to.local) {
      session.send(stanzaError(presence, 'cancel', 'not-allowed'));
      return;
    }
    const existing = room?.occupantBySession(session.fullJid);
    if (room && existing) {
      if (existing.nick === nick) {
        existing.presence = cleanPresence(presence);
        this.#broadcastPresence(room, existing);
      } else this.#changeNick(room, existing, nick, presence);
      return;
    }
    this.#join(session, presence, roomJid, nick, room);
  }

  #join(session: SessionRef, presence: Element, roomJid: string, nick: string, existing: Room | undefined): void {
    let room = existing;
    let created = false;
    if (!room) {
      room = new Room(roomJid, { ...DEFAULT_CONFIG }, new Map([[session.bareJid, 'owner']]));
      this.#rooms.set(roomJid, room);
      created = true;
    }
    const affiliation = room.affiliationOf(session.bareJid);
    if (affiliation === 'outcast') {
      session.send(stanzaError(presence, 'auth', 'forbidden', 'You are banned from this room'));
      return;
    }
    if (room.config.membersOnly && affiliation === 'none') {
      session.send(stanzaError(presence, 'auth', 'registration-required', 'This room is for members only; ask for an invitation'));
      return;
    }
    const taken = room.occupants.get(nick);
    if (taken && taken.session.bareJid !== session.bareJid) {
      session.send(stanzaError(presence, 'cancel', 'conflict', `The nickname "${nick}" is in use in this room`));
      return;
    }
    if (taken) {
      // The same user joins again from another device under the same nick: replace (simple model).
      this.#removeOccupant(room, taken);
    }
    const occupant: Occupant = { nick, session, affiliation, role: room.roleFor(affiliation), presence: cleanPresence(presence) };
    // Existing occupants first, then the joiner's own presence (XEP-0045 §7.2.3).
    for (const other of room.occupants.values()) session.send(this.#occupantPresence(room, other, session.fullJid, []));
    room.occupants.set(nick, occupant);
    room.nickOf.set(session.fullJid, nick);
    for (const other of room.occupants.values()) {
      if (other === occupant) continue;
      other.session.send(this.#occupantPresence(room, occupant, other.session.fullJid, []));
    }
    session.send(this.#occupantPresence(room, occupant, session.fullJid, created ? ['100', '110', '201'] : ['100', '110']));
    // History, then the subject (XEP-0045 §7.2.15–16).
    void this.#sendHistory(room, session, child(presence, 'x', NS.muc))
      .catch((err: unknown) => this.ctx.logger.error({ err }, 'MUC history failed'))
      .then(() => session.send(el('message', { type: 'groupchat', from: room!.subject?.from ?? roomJid, to: session.fullJid }, el('subject', {}, room!.subject?.text ?? ''))));
  }

  async #sendHistory(room: Room, session: SessionRef, mucX: Element | undefined): Promise<void> {
    const historyEl = mucX ? child(mucX, 'history') : undefined;
    const maxStanzas = historyEl?.attrs.maxstanzas !== undefined ? Number(historyEl.attrs.maxstanzas) : this.historySize;
    let history = room.history;
    if (!history.length && room.config.persistent) {
      // After a restart the in-memory history is empty: refill it from the room archive.
      const page = await this.archive.query({ owner: room.jid, before: '', max: this.historySize });
      if (page !== 'item-not-found') {
        history = page.messages.flatMap((m) => {
          try {
            const stanza = parseXml(m.stanza) as Element;
            stanza.cnode(el('delay', { xmlns: NS.delay, from: room.jid, stamp: isoStamp(m.stamp) }));
            return [stanza];
          } catch {
            return [];
          }
        });
        room.history = history;
      }
    }
    for (const h of history.slice(Math.max(0, history.length - Math.max(0, maxStanzas || 0)))) {
      const copy = clone(h);
      copy.attrs.to = session.fullJid;
      session.send(copy);
    }
  }

  #leave(room: Room, session: SessionRef, presence?: Element): void {
    const occupant = room.occupantBySession(session.fullJid);
    if (!occupant) return;
    const status = presence ? child(presence, 'status') : undefined;
    this.#removeOccupant(room, occupant, [], status?.getText());
    this.#maybeDestroy(room);
  }

  #removeOccupant(room: Room, occupant: Occupant, codes: string[] = [], statusText?: string, actorReason?: string): void {
    room.occupants.delete(occupant.nick);
    room.nickOf.delete(occupant.session.fullJid);
    const unavailable = (to: string, self: boolean) => {
      const p = el('presence', { type: 'unavailable', from: `${room.jid}/${occupant.nick}`, to });
      p.cnode(
        el(
          'x',
          { xmlns: NS.mucUser },
          el('item', { affiliation: occupant.affiliation, role: 'none', jid: occupant.session.fullJid }, actorReason ? el('reason', {}, actorReason) : undefined),
          ...(self ? ['110', ...codes] : codes).map((c) => el('status', { code: c })),
        ),
      );
      if (statusText) p.cnode(el('status', {}, statusText));
      return p;
    };
    occupant.session.send(unavailable(occupant.session.fullJid, true));
    for (const other of room.occupants.values()) other.session.send(unavailable(other.session.fullJid, false));
  }

  #changeNick(room: Room, occupant: Occupant, nick: string, presence: Element): void {
    const taken = room.occupants.get(nick);
    if (taken) {
      occupant.session.send(stanzaError(presence, 'cancel', 'conflict', `The nickname "${nick}" is in use in this room`));
      return;
    }
    const old = occupant.nick;
    for (const other of room.occupants.values()) {
      const p = el('presence', { type: 'unavailable', from: `${room.jid}/${old}`, to: other.session.fullJid });
      const codes = other === occupant ? ['303', '110'] : ['303'];
      p.cnode(el('x', { xmlns: NS.mucUser }, el('item', { affiliation: occupant.affiliation, role: occupant.role, nick, jid: occupant.session.fullJid }), ...codes.map((c) => el('status', { code: c }))));
      other.session.send(p);
    }
    room.occupants.delete(old);
    occupant.nick = nick;
    occupant.presence = cleanPresence(presence);
    room.occupants.set(nick, occupant);
    room.nickOf.set(occupant.session.fullJid, nick);
    for (const other of room.occupants.values()) {
      other.session.send(this.#occupantPresence(room, occupant, other.session.fullJid, other === occupant ? ['110'] : []));
    }
  }

  #broadcastPresence(room: Room, occupant: Occupant): void {
    for (const other of room.occupants.values()) {
      other.session.send(this.#occupantPresence(room, occupant, other.session.fullJid, other === occupant ? ['110'] : []));
    }
  }

  #occupantPresence(room: Room, occupant: Occupant, to: string, codes: string[]): Element {
    const p = clone(occupant.presence);
    p.attrs.from = `${room.jid}/${occupant.nick}`;
    p.attrs.to = to;
    p.children = p.children.filter((c) => typeof c === 'string' || c.attrs.xmlns !== NS.mucUser);
    p.cnode(el('x', { xmlns: NS.mucUser }, el('item', { affiliation: occupant.affiliation, role: occupant.role, jid: occupant.session.fullJid }), ...codes.map((c) => el('status', { code: c }))));
    return p;
  }

  /** A session ended: it leaves every room it was in. */
  sessionEnded(session: SessionRef): void {
    for (const room of [...this.#rooms.values()]) {
      if (room.occupantBySession(session.fullJid)) {
        const occupant = room.occupantBySession(session.fullJid)!;
        room.occupants.delete(occupant.nick);
        room.nickOf.delete(session.fullJid);
        for (const other of room.occupants.values()) {
          const p = el('presence', { type: 'unavailable', from: `${room.jid}/${occupant.nick}`, to: other.session.fullJid });
          p.cnode(el('x', { xmlns: NS.mucUser }, el('item', { affiliation: occupant.affiliation, role: 'none', jid: session.fullJid })));
          other.session.send(p);
        }
        this.#maybeDestroy(room);
      }
    }
  }

  #maybeDestroy(room: Room): void {
    if (room.isEmpty && !room.config.persistent) {
      this.#rooms.delete(room.jid);
      void this.#forget(room.jid);
    }
  }

  // ---- messages ------------------------------------------------------------------------

  handleMessage(session: SessionRef, message: Element, to: Jid): void {
    const room = this.#rooms.get(to.bare);
    const type = message.attrs.type ?? 'normal';
    if (!room) {
      if (type !== 'error') session.send(stanzaError(message, 'cancel', 'item-not-found', 'No such room'));
      return;
    }
    const occupant = room.occupantBySession(session.fullJid);
    const mucUser = child(message, 'x', NS.mucUser);
    const invites = mucUser ? childElements(mucUser).filter((c) => c.name === 'invite') : [];
    if (invites.length && !to.resource) return this.#invite(room, session, occupant, message, invites);
    if (type === 'error') return;
    if (!occupant) {
      session.send(stanzaError(message, 'modify', 'not-acceptable', 'Join the room before sending to it'));
      return;
    }
    if (to.resource) {
      // A private message to one occupant.
      const target = room.occupants.get(to.resource);
      if (!target) {
        session.send(stanzaError(message, 'cancel', 'item-not-found', `Nobody called "${to.resource}" is in the room`));
        return;
      }
      const pm = clone(message);
      pm.attrs.from = `${room.jid}/${occupant.nick}`;
      pm.attrs.to = target.session.fullJid;
      pm.cnode(el('x', { xmlns: NS.mucUser }));
      target.session.send(pm);
      return;
    }
    if (type !== 'groupchat') {
      session.send(stanzaError(message, 'modify', 'bad-request', 'Messages to a room are of type groupchat'));
      return;
    }
    if (occupant.role === 'visitor') {
      session.send(stanzaError(message, 'auth', 'forbidden', 'Visitors cannot speak in this room'));
      return;
    }
    const subject = child(message, 'subject');
    if (subject && !hasBody(message)) {
      room.subject = { text: subject.getText(), from: `${room.jid}/${occupant.nick}` };
      session.holdAck(this.#save(room));
    }
    const out = clone(message);
    out.attrs.from = `${room.jid}/${occupant.nick}`;
    delete out.attrs.to;
    out.children = out.children.filter((c) => typeof c === 'string' || !(c.name === 'stanza-id' && c.attrs.xmlns === NS.sid));
    if (hasBody(message)) {
      const archived = this.archive.add(room.jid, session.bareJid, (id) => {
        out.cnode(el('stanza-id', { xmlns: NS.sid, by: room.jid, id }));
        return out.toString();
      });
      session.holdAck(archived.committed);
      const past = clone(out);
      past.cnode(el('delay', { xmlns: NS.delay, from: room.jid, stamp: isoStamp(Date.now()) }));
      room.history.push(past);
      if (room.history.length > this.historySize) room.history.splice(0, room.history.length - this.historySize);
    }
    for (const other of room.occupants.values()) {
      const copy = clone(out);
      copy.attrs.to = other.session.fullJid;
      other.session.send(copy);
    }
  }

  #invite(room: Room, session: SessionRef, occupant: Occupant | undefined, message: Element, invites: Element[]): void {
    const affiliation = room.affiliationOf(session.bareJid);
    if (!occupant && affiliation !== 'owner' && affiliation !== 'admin') {
      session.send(stanzaError(message, 'auth', 'forbidden', 'Join the room before inviting people to it'));
      return;
    }
    for (const invite of invites) {
      const invitee = parseJid(invite.attrs.to);
      const user = invitee ? localUser(this.ctx, invitee.bare) : undefined;
      if (!invitee || !user) {
        session.send(stanzaError(message, 'modify', 'jid-malformed', 'Invite people of this server by their address'));
        continue;
      }
      if (room.config.membersOnly && room.affiliationOf(invitee.bare) === 'none') {
        room.affiliations.set(invitee.bare, 'member');
        session.holdAck(this.#save(room));
      }
      const reason = textOf(child(invite, 'reason'));
      const out = el(
        'message',
        { from: room.jid, to: invitee.bare, id: message.attrs.id },
        el('x', { xmlns: NS.mucUser }, el('invite', { from: session.bareJid }, reason ? el('reason', {}, reason) : undefined)),
        el('x', { xmlns: NS.conference, jid: room.jid, reason: reason || undefined }),
        el('body', {}, `${session.username} invites you to the group chat ${room.config.name ?? room.jid}`),
      );
      // An invitation waits in offline storage when the invitee is not connected.
      const stored = this.messages.deliver(out, user, invitee.bare, undefined, false);
      if (stored) session.holdAck(stored);
    }
  }

  // ---- IQs: disco, admin, owner, archive ----------------------------------------------

  handleIq(session: SessionRef, iq: Element, to: Jid): void {
    const type = iq.attrs.type;
    if (type === 'result' || type === 'error') return;
    const payload = childElements(iq)[0];
    const ns = payload?.attrs.xmlns;
    if (!to.local) {
      if (ns === NS.discoInfo) return session.send(this.#result(iq, el('query', { xmlns: NS.discoInfo }, el('identity', { category: 'conference', type: 'text', name: 'Group chats' }), el('feature', { var: NS.muc }), el('feature', { var: NS.discoInfo }), el('feature', { var: NS.discoItems }))));
      if (ns === NS.discoItems) {
        const items = [...this.#rooms.values()].filter((r) => r.config.public).map((r) => el('item', { jid: r.jid, name: r.config.name ?? r.jid.split('@')[0] }));
        return session.send(this.#result(iq, el('query', { xmlns: NS.discoItems }, ...items)));
      }
      return session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
    }
    const room = this.#rooms.get(to.bare);
    if (to.resource) {
      // IQs to an occupant are passed to them (vCard queries, pings).
      const target = room?.occupants.get(to.resource);
      const from = room?.occupantBySession(session.fullJid);
      if (!target || !from) return session.send(stanzaError(iq, 'cancel', 'item-not-found'));
      const fwd = clone(iq);
      fwd.attrs.from = `${room!.jid}/${from.nick}`;
      fwd.attrs.to = target.session.fullJid;
      return target.session.send(fwd);
    }
    if (ns === NS.discoInfo && !room) return session.send(stanzaError(iq, 'cancel', 'item-not-found', 'No such room'));
    if (!room) {
      // Owner configuration of a room that does not exist yet is how some clients create one.
      return session.send(stanzaError(iq, 'cancel', 'item-not-found', 'No such room; join it to create it'));
    }
    if (ns === NS.discoInfo) {
      const c = room.config;
      return session.send(
        this.#result(
          iq,
          el(
            'query',
            { xmlns: NS.discoInfo },
            el('identity', { category: 'conference', type: 'text', name: c.name ?? room.jid.split('@')[0] }),
            ...[NS.muc, c.public ? 'muc_public' : 'muc_hidden', c.membersOnly ? 'muc_membersonly' : 'muc_open', c.persistent ? 'muc_persistent' : 'muc_temporary', 'muc_nonanonymous', 'muc_unmoderated', NS.mam, NS.sid].map((v) => el('feature', { var: v })),
            el('x', { xmlns: NS.dataForms, type: 'result' }, el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.mucRoomInfo)), el('field', { var: 'muc#roominfo_occupants' }, el('value', {}, String(room.occupants.size)))),
          ),
        ),
      );
    }
    if (ns === NS.discoItems) return session.send(this.#result(iq, el('query', { xmlns: NS.discoItems })));
    const affiliation = room.affiliationOf(session.bareJid);
    if (ns === NS.mam) {
      const occupant = room.occupantBySession(session.fullJid);
      if (!occupant && (room.config.membersOnly ? affiliation === 'none' || affiliation === 'outcast' : affiliation === 'outcast')) {
        return session.send(stanzaError(iq, 'auth', 'forbidden', 'Only members can read this room’s history'));
      }
      return void this.mam.query(session, iq, payload, room.jid, room.jid).catch((err: unknown) => {
        this.ctx.logger.error({ err }, 'MAM query failed');
        session.send(stanzaError(iq, 'wait', 'internal-server-error'));
      });
    }
    if (ns === NS.mucOwner) return this.#owner(room, session, iq, payload, affiliation);
    if (ns === NS.mucAdmin) return this.#admin(room, session, iq, payload, affiliation);
    session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
  }

  #owner(room: Room, session: SessionRef, iq: Element, query: Element, affiliation: Affiliation): void {
    if (affiliation !== 'owner') return session.send(stanzaError(iq, 'auth', 'forbidden', 'Only the room’s owners can configure it'));
    if (iq.attrs.type === 'get') return session.send(this.#result(iq, el('query', { xmlns: NS.mucOwner }, configForm(room.config))));
    const destroy = child(query, 'destroy');
    if (destroy) {
      for (const o of [...room.occupants.values()]) {
        const p = el('presence', { type: 'unavailable', from: `${room.jid}/${o.nick}`, to: o.session.fullJid }, el('x', { xmlns: NS.mucUser }, el('item', { affiliation: 'none', role: 'none' }), el('destroy', {}, textOf(child(destroy, 'reason')) ? el('reason', {}, textOf(child(destroy, 'reason'))) : undefined)));
        o.session.send(p);
      }
      this.#rooms.delete(room.jid);
      session.holdAck(this.#forget(room.jid));
      return session.send(this.#result(iq));
    }
    const form = child(query, 'x', NS.dataForms);
    if (!form) return session.send(stanzaError(iq, 'modify', 'bad-request'));
    if (form.attrs.type === 'cancel') return session.send(this.#result(iq));
    const values = new Map(childElements(form).filter((f) => f.name === 'field').map((f) => [f.attrs.var ?? '', textOf(child(f, 'value'))]));
    const bool = (v: string | undefined, d: boolean) => (v === undefined ? d : v === '1' || v === 'true');
    room.config = {
      name: values.get('muc#roomconfig_roomname') || room.config.name,
      persistent: bool(values.get('muc#roomconfig_persistentroom'), room.config.persistent),
      membersOnly: bool(values.get('muc#roomconfig_membersonly'), room.config.membersOnly),
      public: bool(values.get('muc#roomconfig_publicroom'), room.config.public),
    };
    // Making a room members-only keeps the people already in it.
    if (room.config.membersOnly) {
      for (const o of room.occupants.values()) if (room.affiliationOf(o.session.bareJid) === 'none') room.affiliations.set(o.session.bareJid, 'member');
    }
    session.holdAck(room.config.persistent ? this.#save(room) : this.#forget(room.jid));
    session.send(this.#result(iq));
  }

  #admin(room: Room, session: SessionRef, iq: Element, query: Element, affiliation: Affiliation): void {
    const moderator = room.occupantBySession(session.fullJid)?.role === 'moderator' || affiliation === 'owner' || affiliation === 'admin';
    const items = childElements(query).filter((c) => c.name === 'item');
    if (iq.attrs.type === 'get') {
      const wanted = items[0]?.attrs.affiliation;
      if (!moderator || !wanted) return session.send(stanzaError(iq, 'auth', 'forbidden'));
      const list = [...room.affiliations.entries()].filter(([, a]) => a === wanted).map(([jid, a]) => el('item', { jid, affiliation: a }));
      return session.send(this.#result(iq, el('query', { xmlns: NS.mucAdmin }, ...list)));
    }
    for (const item of items) {
      if (item.attrs.role === 'none' && item.attrs.nick) {
        // Kick (XEP-0045 §8.2).
        const target = room.occupants.get(item.attrs.nick);
        if (!moderator) return session.send(stanzaError(iq, 'auth', 'forbidden', 'Only moderators can remove people'));
        if (!target) return session.send(stanzaError(iq, 'cancel', 'item-not-found'));
        if (target.affiliation === 'owner' || target.affiliation === 'admin') return session.send(stanzaError(iq, 'cancel', 'not-allowed', 'Owners and admins cannot be kicked'));
        this.#removeOccupant(room, target, ['307'], undefined, textOf(child(item, 'reason')) || undefined);
        continue;
      }
      if (item.attrs.affiliation && item.attrs.jid) {
        if (affiliation !== 'owner' && affiliation !== 'admin') return session.send(stanzaError(iq, 'auth', 'forbidden', 'Only owners and admins change affiliations'));
        const jid = parseJid(item.attrs.jid)?.bare;
        const value = item.attrs.affiliation as Affiliation;
        if (!jid || !['owner', 'admin', 'member', 'outcast', 'none'].includes(value)) return session.send(stanzaError(iq, 'modify', 'bad-request'));
        if ((value === 'owner' || room.affiliationOf(jid) === 'owner') && affiliation !== 'owner') return session.send(stanzaError(iq, 'auth', 'forbidden'));
        if (value === 'none') room.affiliations.delete(jid);
        else room.affiliations.set(jid, value);
        for (const o of [...room.occupants.values()]) {
          if (o.session.bareJid !== jid) continue;
          if (value === 'outcast' || (room.config.membersOnly && value === 'none')) this.#removeOccupant(room, o, [value === 'outcast' ? '301' : '321']);
          else {
            o.affiliation = value;
            o.role = room.roleFor(value);
            this.#broadcastPresence(room, o);
          }
        }
        session.holdAck(this.#save(room));
        continue;
      }
      return session.send(stanzaError(iq, 'modify', 'bad-request'));
    }
    session.send(this.#result(iq));
  }

  #result(iq: Element, payload?: Element): Element {
    return el('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, payload);
  }

  /** Stores the room as it is now (after the room's earlier writes). */
  #save(room: Room): Promise<void> {
    if (!room.config.persistent) return Promise.resolve();
    const row = {
      jid: room.jid,
      config: JSON.stringify(room.config),
      affiliations: JSON.stringify(Object.fromEntries(room.affiliations)),
      subject: room.subject ? JSON.stringify(room.subject) : undefined,
    };
    return this.#write(room.jid, () => this.records.save(row));
  }

  #forget(jid: string): Promise<void> {
    return this.#write(jid, () => this.records.delete(jid));
  }

  #write(jid: string, write: () => Promise<void>): Promise<void> {
    const next = (this.#writes.get(jid) ?? Promise.resolve()).then(write);
    const settled = next.catch((err: unknown) => this.ctx.logger.error({ err, room: jid }, 'group chat room could not be stored'));
    this.#writes.set(jid, settled);
    void settled.then(() => this.#writes.get(jid) === settled && this.#writes.delete(jid));
    return next;
  }
}

function cleanPresence(p: Element): Element {
  const c = clone(p);
  delete c.attrs.to;
  delete c.attrs.from;
  delete c.attrs.id;
  c.children = c.children.filter((x) => typeof x === 'string' || (x.attrs.xmlns !== NS.muc && x.attrs.xmlns !== NS.mucUser));
  return c;
}

function configForm(c: RoomConfig): Element {
  const field = (v: string, type: string, label: string, value: string) => el('field', { var: v, type, label }, el('value', {}, value));
  return el(
    'x',
    { xmlns: NS.dataForms, type: 'form' },
    el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.mucRoomConfig)),
    field('muc#roomconfig_roomname', 'text-single', 'Name', c.name ?? ''),
    field('muc#roomconfig_persistentroom', 'boolean', 'Keep the room when everybody has left', c.persistent ? '1' : '0'),
    field('muc#roomconfig_membersonly', 'boolean', 'Members only', c.membersOnly ? '1' : '0'),
    field('muc#roomconfig_publicroom', 'boolean', 'Listed in the directory', c.public ? '1' : '0'),
  );
}
