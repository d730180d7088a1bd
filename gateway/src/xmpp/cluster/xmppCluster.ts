/**
 * XMPP across gateway nodes (REDIS_URL set): every node keeps a mirror of the sessions bound on
 * the others — full JID, state, presence, carbons — so the services decide who gets what exactly
 * as on one node, synchronously; a stanza for a session elsewhere travels to its node through
 * the node bus (one ordered Redis Stream per receiving node).
 *
 * - Each node tells every other of its own sessions' changes; envelopes from one node arrive in
 *   the order it sent them, so a mirror is that node's state a moment ago.
 * - A node that starts asks the others for their sessions and opens its listeners once they
 *   answered (or a few seconds passed); a node that meets another later sends it its sessions.
 * - When a node dies (its directory entry expires), the others drop its sessions and tell their
 *   own users those resources are unavailable. Messages are in the recipient's archive before the
 *   sender's node acknowledges them, and what the dead node had not read of its inbox is taken
 *   over by a live one (NodeBus.adopt): a chat message in flight to it goes to the user's other
 *   resources or offline storage, as for any gone session.
 * - A stanza that arrives for a session that has just ended is handled as RFC 6121 says for a
 *   resource that is gone: a chat message goes to the user's other resources or offline storage.
 * - A group chat room lives on one node (its home, claimed in Redis by the first node that needs
 *   it): stanzas to the room from sessions elsewhere are forwarded there, and their sender's
 *   node acknowledges them only once the home has stored what they asked for. When a home dies,
 *   the occupants elsewhere are told they left (status 332, so clients join again) and the room
 *   moves to the next node that needs it, read again from its stored record.
 */
import type { Element } from 'ltx';
import { parse as parseXml } from 'ltx';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import type { Logger } from '../../../../server-common/logger.js';
import type { HomeDirectory } from '../../cluster/homeDirectory.js';
import type { NodeBus } from '../../cluster/nodeBus.js';
import type { NodeDirectory } from '../../cluster/nodeDirectory.js';
import { parseJid } from '../core/jid.js';
import { child, el, stanzaError, StreamError } from '../core/xml.js';
import type { CarbonsService } from '../im/carbonsService.js';
import { hasBody, type MessageService } from '../im/messageService.js';
import type { PresenceService } from '../presence/presenceService.js';
import type { SessionRef } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';
import { RemoteSession, type RemoteSessionLink } from './remoteSession.js';

/** What one node tells another; JSON through the node bus. */
export type XmppEnvelope =
  /** Deliver to the local session `to`; `hop` counts fallbacks, so a stale mirror cannot loop. */
  | { t: 'stanza'; to: string; xml: string; hop: number }
  /** A session's state (upsert). `resync`: part of a full snapshot, not a change. */
  | { t: 'session'; jid: string; state: 'bound' | 'hibernating'; available: boolean; priority: number; presence?: string; carbons: boolean; resync?: boolean }
  | { t: 'ended'; jid: string }
  /** The sender node sees `user` in a SIP call (or no longer). */
  | { t: 'in-call'; user: string; on: boolean }
  | { t: 'end-hibernation'; jid: string }
  /** Someone bound the same full JID on the sender node: the old session goes (RFC 6120 §7.7.2.2). */
  | { t: 'conflict'; jid: string }
  | { t: 'sync' }
  | { t: 'synced' }
  /** A stanza from the sender node's session `from` to a room this node is home to. */
  | { t: 'room'; from: string; xml: string; ref: number }
  /** The room stanza `ref` was handled (and what it wrote is stored, when `ok`). */
  | { t: 'room-done'; ref: number; ok: boolean };

/** What the cluster needs from the XMPP server. */
export interface XmppClusterHost {
  readonly logger: Logger;
  readonly presence: PresenceService;
  readonly carbons: CarbonsService;
  readonly messages: MessageService;
  localSession(fullJid: string): C2SSession | undefined;
  localSessions(): Iterable<C2SSession>;
  /** Sends a stanza to a session on any node (used for error replies). */
  sessionByJid(fullJid: string): SessionRef | undefined;
  /** In-call state of a user as every node together sees it. */
  applyInCall(user: string, inCall: boolean): void;
  /** Hands a stanza to the group chat service as if `session` had sent it here. */
  handleRoomStanza(session: SessionRef, stanza: Element): void | Promise<void>;
  /** A session (of another node) is gone: it leaves the rooms homed here. */
  roomSessionEnded(session: SessionRef): void;
  /** This node took a room over from a dead node: read it again from storage. */
  reloadRoom(jid: string): Promise<void>;
}

export interface XmppClusterOptions {
  bus: NodeBus<XmppEnvelope>;
  nodes: NodeDirectory;
  /** Which node is home to each group chat room. */
  rooms: HomeDirectory;
  /** How long a sender's node waits for a room's home to handle a stanza. */
  roomTimeoutMs?: number;
  /** How long a starting node waits for the others' sessions before opening its listeners. */
  syncTimeoutMs?: number;
}

export class XmppCluster implements RemoteSessionLink {
  readonly #bus: NodeBus<XmppEnvelope>;
  readonly #nodes: NodeDirectory;
  readonly #syncTimeoutMs: number;
  readonly #rooms: HomeDirectory;
  readonly #roomTimeoutMs: number;
  /** Room stanzas forwarded to their home, waiting for it to say they are handled. */
  readonly #pending = new Map<number, { node: string; settle(ok: boolean): void; rehome(): void }>();
  #nextRef = 1;
  /** room → local full JID → nick, for this node's sessions in rooms homed elsewhere. */
  readonly #joinedElsewhere = new Map<string, Map<string, string>>();
  #host: XmppClusterHost | undefined;
  readonly #byJid = new Map<string, RemoteSession>();
  readonly #byUser = new Map<string, Set<RemoteSession>>();
  readonly #byNode = new Map<string, Set<RemoteSession>>();
  /** The incarnation (start time) of each node whose sessions we mirror. */
  readonly #incarnations = new Map<string, number>();
  /** user → nodes that see the user in a call. */
  readonly #inCall = new Map<string, Set<string>>();
  /** Set while a stanza is being handed on again: sends from it carry the next hop count. */
  #hop = 0;
  #awaitingSync = new Set<string>();
  #synced: (() => void) | undefined;

  constructor(options: XmppClusterOptions) {
    this.#bus = options.bus;
    this.#nodes = options.nodes;
    this.#syncTimeoutMs = options.syncTimeoutMs ?? 3000;
    this.#rooms = options.rooms;
    this.#roomTimeoutMs = options.roomTimeoutMs ?? 15_000;
  }

  get remoteSessionCount(): number {
    return this.#byJid.size;
  }

  /** The server this cluster serves (it calls this once its services exist). */
  attach(host: XmppClusterHost): void {
    this.#host = host;
  }

  /** Starts listening; resolves once the other live nodes have told us their sessions. */
  async start(): Promise<void> {
    const host = this.#host!;
    this.#bus.on('envelope', (from, incarnation, e) => this.#receive(from, incarnation, e));
    this.#nodes.on('nodeDown', (id) => {
      // A node restarted under the same id that we already hear from (its new run): what it
      // has now must stay; the old run's sessions were dropped when its first envelope came.
      const info = this.#nodes.get(id);
      if (info && this.#incarnations.get(id) === info.startedAt) return;
      // Gone for good (not restarted): what it had not read yet is handled here (or by another node).
      void this.#nodeGone(id).then(() => (info ? undefined : this.#bus.adopt(id)));
    });
    this.#nodes.on('nodeUp', (info) => this.#sendSnapshot(info.id));
    // Sent to a session of a node that died before reading it: as for any gone session.
    this.#bus.on('orphan', (_to, _from, e) => {
      if (e.t !== 'stanza') return; // the rest described state that died with the node
      let stanza: Element;
      try {
        stanza = parseXml(e.xml) as Element;
      } catch {
        return;
      }
      this.#undeliverable(e.to, stanza, e.hop);
    });
    await this.#bus.start();
    const others = this.#nodes.others().map((n) => n.id);
    if (!others.length) return;
    this.#awaitingSync = new Set(others);
    const synced = new Promise<void>((resolve) => (this.#synced = resolve));
    for (const id of others) this.#bus.send(id, { t: 'sync' });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.#syncTimeoutMs).unref());
    await Promise.race([synced, timeout]);
    if (this.#awaitingSync.size) host.logger.warn({ nodes: [...this.#awaitingSync] }, 'some gateway nodes did not send their XMPP sessions in time');
    this.#awaitingSync.clear();
  }

  async stop(): Promise<void> {
    await this.#bus.stop();
  }

  // ---- what this node's services see of the others ----------------------------------

  sessionsOf(username: string): RemoteSession[] {
    // While a stanza is handed on a second time, only this node's own sessions (or storage) take it.
    if (this.#hop > 1) return [];
    const set = this.#byUser.get(username);
    return set ? [...set] : [];
  }

  sessionByJid(fullJid: string): RemoteSession | undefined {
    return this.#hop > 1 ? undefined : this.#byJid.get(fullJid);
  }

  // ---- this node's sessions, told to the others --------------------------------------

  /** A local session was bound or its state changed. */
  published(session: C2SSession): void {
    const e = this.#stateOf(session, false);
    if (e) this.#broadcast(e);
  }

  ended(session: C2SSession): void {
    // The same full JID is bound here again already (a quick reconnect): the others keep it,
    // and the rooms homed elsewhere keep it as their occupant.
    if (this.#host!.localSession(session.fullJid)) return;
    this.#forgetJoins(session.fullJid);
    this.#broadcast({ t: 'ended', jid: session.fullJid });
  }

  /** A local bind takes a full JID that a session on another node holds. */
  replaceRemote(remote: RemoteSession): void {
    this.#bus.send(remote.node, { t: 'conflict', jid: remote.fullJid });
    this.#removeRemote(remote);
  }

  /** The SIP side on this node sees a call of `user` start or end. */
  setInCall(user: string, on: boolean): void {
    this.#claimInCall(this.#nodes.id, user, on);
    this.#broadcast({ t: 'in-call', user, on });
  }

  // ---- group chat rooms ---------------------------------------------------------------

  /** The node a room lives on, or undefined when it is this one (taken over and reloaded if need be). */
  async roomHomeElsewhere(room: string): Promise<string | undefined> {
    const home = await this.#rooms.homeOf(room);
    if (home.node !== this.#nodes.id) return home.node;
    if (home.takenOver) await this.#host!.reloadRoom(room);
    return undefined;
  }

  /**
   * Sends a local session's stanza to the room's home node; settles once the home has handled it
   * and stored what it wrote (rejects when it could not: the session's ack then waits in vain and
   * the client sends it again after reconnecting).
   */
  forwardToRoom(home: string, session: C2SSession, stanza: Element): Promise<void> {
    const room = stanza.attrs.to.split('/')[0];
    if (stanza.name === 'presence') {
      const nick = stanza.attrs.to.split('/')[1];
      if (stanza.attrs.type === 'unavailable') removeKey(this.#joinedElsewhere, room, session.fullJid);
      else if (stanza.attrs.type === undefined && nick) {
        let joined = this.#joinedElsewhere.get(room);
        if (!joined) this.#joinedElsewhere.set(room, (joined = new Map()));
        joined.set(session.fullJid, nick);
      }
    }
    const ref = this.#nextRef++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => settle(false), this.#roomTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(ref);
      };
      const settle = (ok: boolean) => {
        done();
        if (ok) resolve();
        else reject(new Error(`the node home to ${room} did not handle a stanza`));
      };
      // The home died with the stanza unhandled: it goes to the room's next home instead.
      const rehome = () => {
        done();
        this.#toRoom(session, stanza).then(resolve, reject);
      };
      this.#pending.set(ref, { node: home, settle, rehome });
      this.#bus.send(home, { t: 'room', from: session.fullJid, xml: stanza.toString(), ref });
    });
  }

  /** A local session's stanza to a room, wherever the room lives now. */
  async #toRoom(session: C2SSession, stanza: Element): Promise<void> {
    if (session.state === 'closed') return;
    const home = await this.roomHomeElsewhere(stanza.attrs.to.split('/')[0]);
    if (home !== undefined) return this.forwardToRoom(home, session, stanza);
    const { handled, holds } = session.collectHolds(() => this.#host!.handleRoomStanza(session, stanza));
    await handled;
    await Promise.all(holds);
  }

  /** A local session ended: it is no longer in rooms elsewhere (their homes hear it ended). */
  #forgetJoins(fullJid: string): void {
    for (const room of [...this.#joinedElsewhere.keys()]) removeKey(this.#joinedElsewhere, room, fullJid);
  }

  #handleRoomStanza(from: string, e: Extract<XmppEnvelope, { t: 'room' }>): void {
    const host = this.#host!;
    const remote = this.#byJid.get(e.from);
    const done = (ok: boolean) => this.#bus.send(from, { t: 'room-done', ref: e.ref, ok });
    if (!remote || remote.node !== from) return done(true); // the session is already gone
    let stanza: Element;
    try {
      stanza = parseXml(e.xml) as Element;
    } catch {
      return done(true);
    }
    const { handled, holds } = remote.collectHolds(() => host.handleRoomStanza(remote, stanza));
    Promise.resolve(handled)
      .then(() => Promise.all(holds))
      .then(
        () => done(true),
        (err: unknown) => {
          host.logger.error({ err, room: stanza.attrs.to }, 'a room stanza from another node could not be handled');
          done(false);
        },
      );
  }

  /** The home of rooms some of our sessions were in died: they are out (XEP-0045 status 332). */
  #roomsLost(rooms: string[]): void {
    const host = this.#host!;
    for (const room of rooms) {
      const joined = this.#joinedElsewhere.get(room);
      this.#joinedElsewhere.delete(room);
      for (const [jid, nick] of joined ?? []) {
        const p = el(
          'presence',
          { type: 'unavailable', from: `${room}/${nick}`, to: jid },
          el('x', { xmlns: NS.mucUser }, el('item', { role: 'none' }), el('status', { code: '110' }), el('status', { code: '332' })),
          el('status', {}, 'The group chat moved to another server; join again'),
        );
        host.localSession(jid)?.send(p);
      }
    }
  }

  // ---- RemoteSessionLink ------------------------------------------------------------

  sendStanza(session: RemoteSession, stanza: Element): void {
    this.#bus.send(session.node, { t: 'stanza', to: session.fullJid, xml: stanza.toString(), hop: this.#hop });
  }

  endHibernation(session: RemoteSession): void {
    this.#bus.send(session.node, { t: 'end-hibernation', jid: session.fullJid });
  }

  // ---- envelopes from other nodes ---------------------------------------------------

  #receive(from: string, incarnation: number, e: XmppEnvelope): void {
    const host = this.#host!;
    const known = this.#incarnations.get(from);
    if (known !== incarnation) {
      // A node restarted under the same id: what we mirrored of its previous run is gone.
      if (known !== undefined) void this.#nodeGone(from);
      this.#incarnations.set(from, incarnation);
    }
    switch (e.t) {
      case 'stanza':
        return this.#deliver(e.to, e.xml, e.hop);
      case 'session':
        return this.#upsert(from, e);
      case 'ended': {
        const remote = this.#byJid.get(e.jid);
        // Its node has told its watchers; here it leaves the rooms homed here and is forgotten.
        if (remote && remote.node === from) {
          host.roomSessionEnded(remote);
          this.#removeRemote(remote);
        }
        return;
      }
      case 'in-call':
        return this.#claimInCall(from, e.user, e.on);
      case 'end-hibernation':
        return host.localSession(e.jid)?.endHibernation();
      case 'conflict':
        return host.localSession(e.jid)?.close(new StreamError('conflict', 'Replaced by a new connection with the same resource'));
      case 'sync':
        this.#sendSnapshot(from);
        this.#bus.send(from, { t: 'synced' });
        return;
      case 'synced':
        this.#awaitingSync.delete(from);
        if (!this.#awaitingSync.size) this.#synced?.();
        return;
      case 'room':
        return this.#handleRoomStanza(from, e);
      case 'room-done': {
        const pending = this.#pending.get(e.ref);
        if (pending && pending.node === from) pending.settle(e.ok);
        return;
      }
    }
  }

  #deliver(to: string, xml: string, hop: number): void {
    let stanza: Element;
    try {
      stanza = parseXml(xml) as Element;
    } catch {
      return;
    }
    const local = this.#host!.localSession(to);
    if (local && local.state !== 'closed') return local.send(stanza);
    this.#undeliverable(to, stanza, hop);
  }

  /** The session a stanza was sent to has ended: what RFC 6121 §8.5.3.2 says for a gone resource. */
  #undeliverable(to: string, stanza: Element, hop: number): void {
    const host = this.#host!;
    const type = stanza.attrs.type;
    if (stanza.name === 'iq') {
      if (type !== 'get' && type !== 'set') return;
      const error = stanzaError(stanza, 'cancel', 'service-unavailable');
      const asker = error.attrs.to ? host.sessionByJid(error.attrs.to) : undefined;
      asker?.send(error);
      return;
    }
    if (stanza.name !== 'message' || !hasBody(stanza) || type === 'groupchat' || type === 'error' || type === 'headline') return;
    if (child(stanza, 'received', NS.carbons) || child(stanza, 'sent', NS.carbons)) return; // a copy, not the message
    const bare = to.split('/')[0]!;
    const user = bare.slice(0, bare.indexOf('@'));
    this.#hop = hop + 1;
    try {
      // Already archived by the sender's node: only delivery (or offline storage) is left.
      host.messages.deliver(stanza, user, bare, undefined, false)?.catch((err: unknown) => host.logger.error({ err }, 'storing a message for a gone session failed'));
    } finally {
      this.#hop = 0;
    }
  }

  #upsert(from: string, e: Extract<XmppEnvelope, { t: 'session' }>): void {
    const host = this.#host!;
    let remote = this.#byJid.get(e.jid);
    if (remote && remote.node !== from) {
      this.#removeRemote(remote);
      remote = undefined;
    }
    const isNew = !remote;
    if (!remote) {
      remote = new RemoteSession(from, e.jid, this);
      this.#byJid.set(e.jid, remote);
      addTo(this.#byUser, remote.username, remote);
      addTo(this.#byNode, from, remote);
    }
    remote.state = e.state;
    let presence: Element | undefined;
    try {
      presence = e.presence ? (parseXml(e.presence) as Element) : undefined;
    } catch {
      presence = undefined;
    }
    host.presence.mirror(remote, { available: e.available, priority: e.priority, presence });
    host.carbons.mirror(remote, e.carbons);
    if (isNew && e.resync) void host.presence.presentRemote(remote).catch(() => undefined);
  }

  #removeRemote(remote: RemoteSession): void {
    if (this.#byJid.get(remote.fullJid) === remote) this.#byJid.delete(remote.fullJid);
    removeFrom(this.#byUser, remote.username, remote);
    removeFrom(this.#byNode, remote.node, remote);
  }

  async #nodeGone(node: string): Promise<void> {
    const host = this.#host!;
    const sessions = [...(this.#byNode.get(node) ?? [])];
    this.#byNode.delete(node);
    this.#incarnations.delete(node);
    this.#bus.forget(node);
    for (const [user, nodes] of this.#inCall) if (nodes.has(node)) this.#claimInCall(node, user, false);
    this.#roomsLost(this.#rooms.forgetNode(node));
    for (const p of [...this.#pending.values()]) if (p.node === node) p.rehome();
    for (const remote of sessions) {
      host.roomSessionEnded(remote);
      this.#removeRemote(remote);
    }
    for (const remote of sessions) {
      await host.presence.remoteGone(remote).catch((err: unknown) => host.logger.warn({ err }, 'telling watchers of a gone node failed'));
    }
    if (sessions.length) host.logger.info({ node, sessions: sessions.length }, 'XMPP sessions of a gone gateway node dropped');
  }

  #claimInCall(node: string, user: string, on: boolean): void {
    const before = this.#inCall.has(user);
    if (on) addTo(this.#inCall, user, node);
    else removeFrom(this.#inCall, user, node);
    const after = this.#inCall.has(user);
    if (before !== after) this.#host!.applyInCall(user, after);
  }

  #sendSnapshot(node: string): void {
    for (const s of this.#host!.localSessions()) {
      const e = this.#stateOf(s, true);
      if (e) this.#bus.send(node, e);
    }
    for (const [user, nodes] of this.#inCall) if (nodes.has(this.#nodes.id)) this.#bus.send(node, { t: 'in-call', user, on: true });
  }

  #stateOf(s: C2SSession, resync: boolean): XmppEnvelope | undefined {
    if (s.state !== 'bound' && s.state !== 'hibernating') return undefined;
    const p = this.#host!.presence.snapshot(s);
    return {
      t: 'session',
      jid: s.fullJid,
      state: s.state,
      available: p.available,
      priority: p.priority,
      presence: p.presence?.toString(),
      carbons: this.#host!.carbons.isEnabled(s),
      resync: resync || undefined,
    };
  }

  #broadcast(e: XmppEnvelope): void {
    for (const n of this.#nodes.others()) this.#bus.send(n.id, e);
  }
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeKey<K, K2, V>(map: Map<K, Map<K2, V>>, key: K, inner: K2): void {
  const m = map.get(key);
  if (!m) return;
  m.delete(inner);
  if (!m.size) map.delete(key);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (!set.size) map.delete(key);
}
