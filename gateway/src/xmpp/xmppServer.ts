/**
 * Parley's XMPP server (RFC 6120/6121): the hub that owns client sessions and routes stanzas
 * between them and the services. Services — roster and subscriptions, presence (with "in a
 * call" from the SIP side), messages (offline, archive, carbons), group chat, vCards, uploads,
 * the small server queries — plug in through the service registry (router/serviceRegistry.ts),
 * registering the IQ namespaces, disco features, component domains and session events they
 * handle, as Prosody modules do; this file holds no per-namespace switch.
 *
 * xmpp/ owns everything XMPP: transports (TCP with STARTTLS, WebSocket, BOSH), client
 * sessions (SASL, bind, stream management), routing, and the services.
 *
 * Every stanza a client sends gets its `from` stamped here; a client that claims to be someone
 * else loses its stream (<invalid-from/>).
 */
import type { Element } from 'ltx';
import { groupChatDomain } from '../../../contracts/xmpp/serviceAddresses.js';
import type { Logger } from '../../../server-common/logger.js';
import type { GatewayConfig } from '../config.js';
import type { AccountStore } from '../directory/accountStore.js';
import type { ArchiveStore } from '../storage/archive/archiveStore.js';
import type { Storage } from '../storage/storage.js';
import { parseJid, type Jid } from './core/jid.js';
import { childElements, stanzaError, StreamError } from './core/xml.js';
import { CarbonsService } from './im/carbonsService.js';
import { MamService } from './im/mamService.js';
import { MessageService } from './im/messageService.js';
import { MucService } from './muc/mucService.js';
import { PresenceService } from './presence/presenceService.js';
import { RosterService } from './roster/rosterService.js';
import { RosterStore } from './roster/rosterStore.js';
import { XmppServiceRegistry, type Handled, type XmppService } from './router/serviceRegistry.js';
import type { SessionRef, XmppContext } from './router/xmppContext.js';
import type { XmppCluster } from './cluster/xmppCluster.js';
import { BasicIqService } from './services/basicIqService.js';
import { VCardService } from './services/vcardService.js';
import { C2SSession, type SessionHost } from './session/c2sSession.js';
import type { XmppAuthenticator } from './session/sasl.js';
import type { StreamTransport } from './transport/streamTransport.js';

export interface XmppServerOptions {
  config: GatewayConfig;
  storage: Storage;
  accounts: AccountStore;
  auth: XmppAuthenticator;
  /** Services built outside the server because they also serve HTTP (file upload). */
  services: XmppService[];
  /** Parley's version, for XEP-0092. */
  version: string;
  logger: Logger;
  /** The other gateway nodes' sessions (REDIS_URL set). */
  cluster?: XmppCluster;
}

export class XmppServer implements SessionHost, XmppContext {
  readonly domain: string;
  readonly mucDomain: string;
  readonly config: GatewayConfig['xmpp'];
  readonly auth: XmppAuthenticator;
  readonly logger: Logger;
  readonly archive: ArchiveStore;
  readonly presence: PresenceService;
  readonly roster: RosterService;
  readonly messages: MessageService;
  readonly muc: MucService;
  readonly vcards: VCardService;
  readonly carbons: CarbonsService;
  readonly services: XmppServiceRegistry;
  readonly cluster: XmppCluster | undefined;
  readonly #accounts: AccountStore;
  readonly #rosterStore: RosterStore;
  readonly #byJid = new Map<string, C2SSession>();
  readonly #byUser = new Map<string, Set<C2SSession>>();
  readonly #all = new Set<C2SSession>();

  constructor(o: XmppServerOptions) {
    this.domain = o.config.domain;
    this.mucDomain = groupChatDomain(o.config.domain);
    this.config = o.config.xmpp;
    this.auth = o.auth;
    this.logger = o.logger;
    this.#accounts = o.accounts;
    this.cluster = o.cluster;
    this.services = new XmppServiceRegistry(this);
    const rosterStore = new RosterStore(o.storage.rosters, o.storage.db);
    this.#rosterStore = rosterStore;
    this.archive = o.storage.archive;
    this.archive.onError = (err) => this.logger.error({ err }, 'XMPP archive write failed');
    this.presence = new PresenceService(this, rosterStore, (session) => this.services.initialPresence(session));
    this.roster = new RosterService(this, rosterStore, this.presence);
    const carbons = new CarbonsService(this);
    this.carbons = carbons;
    this.messages = new MessageService({
      ctx: this,
      archive: this.archive,
      offline: o.storage.offline,
      offlineMax: o.config.xmpp.offlineMax,
      roster: this.roster,
      presence: this.presence,
      carbons,
      strangerMessages: o.config.xmpp.strangerMessages,
    });
    const mam = new MamService(this, this.archive);
    this.vcards = new VCardService(o.storage.vcards);
    this.muc = new MucService(this, o.storage.mucRooms, this.archive, mam, this.messages, o.config.xmpp.mucHistory);

    // The user is back on a new connection: sessions waiting for resumption hand over what
    // they held (a closed browser tab never resumes; a device that does just signs in again).
    // Registered first, so it runs before the services hand the new session what waited.
    this.services.onInitialPresence((session) => {
      for (const other of this.sessionsOf(session.username!)) if (other !== session && other.state === 'hibernating') other.endHibernation();
    });
    // Registration order is hook order: presence first, so contacts see a session leave
    // before its roster cache is dropped; then pending requests before offline messages.
    const services: XmppService[] = [this.presence, this.roster, carbons, this.messages, mam, this.vcards, this.muc, new BasicIqService(o.version), ...o.services];
    for (const service of services) service.register(this.services);
    this.cluster?.attach({
      logger: this.logger,
      presence: this.presence,
      carbons: this.carbons,
      messages: this.messages,
      localSession: (jid) => this.localSession(jid),
      localSessions: () => this.#byJid.values(),
      sessionByJid: (jid) => this.sessionByJid(jid),
      applyInCall: (user, inCall) => this.presence.setInCall(user, inCall),
      handleRoomStanza: (session, stanza) => this.#roomStanza(session, stanza),
      roomSessionEnded: (session) => this.muc.sessionEnded(session),
      reloadRoom: (jid) => this.muc.reload(jid),
    });
  }

  /** Loads what the services keep in memory (persistent rooms); before clients connect. */
  async start(): Promise<void> {
    await this.muc.load();
    await this.cluster?.start();
  }

  /** A session for a new connection (the transport feeds it). */
  createSession(transport: StreamTransport): C2SSession {
    const session = new C2SSession(transport, this);
    transport.setReceiver(session);
    this.#all.add(session);
    return session;
  }

  get connectedSessions(): number {
    return this.#byJid.size;
  }

  get connections(): number {
    return this.#all.size;
  }

  // ---- XmppContext ---------------------------------------------------------------------

  sessionsOf(username: string): SessionRef[] {
    const set = this.#byUser.get(username);
    const local: SessionRef[] = set ? [...set] : [];
    const remote = this.cluster?.sessionsOf(username);
    return remote?.length ? [...local, ...remote] : local;
  }

  sessionByJid(fullJid: string): SessionRef | undefined {
    return this.#byJid.get(fullJid) ?? this.cluster?.sessionByJid(fullJid);
  }

  /** A session bound on this node. */
  localSession(fullJid: string): C2SSession | undefined {
    return this.#byJid.get(fullJid);
  }

  sessionChanged(session: C2SSession): void {
    this.cluster?.published(session);
  }

  async userExists(username: string): Promise<boolean> {
    return (await this.#accounts.get(username)) !== undefined;
  }

  async displayName(username: string): Promise<string | undefined> {
    return (await this.#accounts.get(username))?.displayName;
  }

  // ---- SessionHost ---------------------------------------------------------------------

  bind(session: C2SSession): 'ok' | 'too-many' {
    const user = session.username!;
    const full = session.fullJid;
    const existing = this.#byJid.get(full);
    if (existing) existing.close(new StreamError('conflict', 'Replaced by a new connection with the same resource'));
    const elsewhere = this.cluster?.sessionByJid(full);
    if (elsewhere) this.cluster!.replaceRemote(elsewhere);
    const set = this.#byUser.get(user) ?? new Set<C2SSession>();
    if (set.size + (this.cluster?.sessionsOf(user).length ?? 0) >= this.config.maxSessionsPerUser) return 'too-many';
    set.add(session);
    this.#byUser.set(user, set);
    this.#byJid.set(full, session);
    this.cluster?.published(session);
    return 'ok';
  }

  stateChanged(session: C2SSession): void {
    if (this.#byJid.get(session.fullJid) === session) this.cluster?.published(session);
  }

  findResumable(previd: string, username: string): C2SSession | undefined {
    // Only sessions on this node can resume here; on another node the client signs in afresh.
    for (const s of this.#byUser.get(username) ?? []) if (s.smId === previd) return s;
    return undefined;
  }

  ended(session: C2SSession, unacked: Element[]): void {
    this.#all.delete(session);
    const user = session.username;
    if (!user || this.#byJid.get(session.fullJid) !== session) return;
    this.#byJid.delete(session.fullJid);
    const set = this.#byUser.get(user);
    set?.delete(session);
    if (set && !set.size) this.#byUser.delete(user);
    // The other nodes forget it after its watchers were told (the hooks send that presence).
    void this.services.sessionEnded(session, unacked).finally(() => this.cluster?.ended(session));
  }

  /** Unified presence: called by the SIP side when a user's call starts or ends. */
  setInCall(username: string, inCall: boolean): void {
    if (this.cluster) this.cluster.setInCall(username, inCall);
    else this.presence.setInCall(username, inCall);
  }

  /** Users with a session on this node (authenticated, bound or hibernating). */
  localUsers(): string[] {
    const users = new Set<string>();
    for (const s of this.#all) if (s.username) users.add(s.username);
    return [...users];
  }

  /**
   * Ends this node's sessions of `username` whose credential `keep` refuses (an app password
   * revoked, the account disabled), with a stream error that says why; returns how many.
   */
  endSessions(username: string, keep: (credential: string | undefined) => boolean, text: string): number {
    let ended = 0;
    for (const s of [...this.#all]) {
      if (s.username !== username || keep(s.credential)) continue;
      // RFC 6120 §4.9.3.14: a local policy ends the stream; the client's next login is refused.
      s.close(new StreamError('policy-violation', text));
      ended++;
    }
    if (ended) this.logger.info({ user: username, sessions: ended }, 'XMPP sessions ended: their credentials no longer count');
    return ended;
  }

  /** Ends every session and waits for the archive's queued rows (server shutdown; the storage closes it). */
  async shutdown(): Promise<void> {
    for (const s of [...this.#all]) s.close(new StreamError('system-shutdown', 'The server is restarting; reconnect in a moment'));
    await this.archive.settled();
    this.#rosterStore.close();
  }

  // ---- routing -------------------------------------------------------------------------

  async route(session: C2SSession, stanza: Element): Promise<void> {
    const from = stanza.attrs.from;
    if (from !== undefined && from !== session.fullJid && from !== session.bareJid) {
      session.close(new StreamError('invalid-from', 'The from address of a stanza must be your own'));
      return;
    }
    stanza.attrs.from = session.fullJid;
    let to: Jid | undefined;
    if (stanza.attrs.to !== undefined) {
      to = parseJid(stanza.attrs.to);
      if (!to) {
        if (stanza.attrs.type !== 'error') session.send(stanzaError(stanza, 'modify', 'jid-malformed', 'The to address is not a valid JID'));
        return;
      }
      stanza.attrs.to = to.full;
    }
    try {
      // A room lives on one node: elsewhere, its stanzas go there.
      if (this.cluster && to?.local && to.domain === this.mucDomain) {
        const home = await this.cluster.roomHomeElsewhere(to.bare);
        if (home !== undefined) return session.holdAck(this.cluster.forwardToRoom(home, session, stanza));
      }
      if (stanza.name === 'message') await this.#message(session, stanza, to);
      else if (stanza.name === 'presence') await this.#presence(session, stanza, to);
      else await this.#iq(session, stanza, to);
    } catch (err) {
      this.logger.error({ err, stanza: stanza.name }, 'XMPP stanza handling failed');
      if (stanza.attrs.type !== 'error' && stanza.attrs.type !== 'result') session.send(stanzaError(stanza, 'cancel', 'internal-server-error'));
    }
  }

  /** A stanza to a room homed here, from a session of another node (checked and stamped there). */
  #roomStanza(session: SessionRef, stanza: Element): Handled {
    const to = parseJid(stanza.attrs.to ?? '');
    const component = this.services.component(this.mucDomain);
    if (!to || !component) return;
    if (stanza.name === 'message') return component.message?.(session, stanza, to);
    if (stanza.name === 'presence') return component.presence?.(session, stanza, to);
    if (stanza.name === 'iq') return component.iq?.(session, stanza, to);
  }

  #presence(session: C2SSession, p: Element, to: Jid | undefined): Handled {
    if (!to) return this.presence.broadcastFrom(session, p);
    const type = p.attrs.type;
    const component = this.services.component(to.domain);
    if (component) return component.presence?.(session, p, to);
    if (type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed') {
      if (to.domain !== this.domain || !to.local) return;
      return this.roster.handleSubscription(session, p, to.bare);
    }
    if (type === 'probe' || type === 'error') return;
    if (to.domain !== this.domain) return; // no federation: nothing to deliver to
    this.presence.directedFrom(session, p, to.full);
  }

  async #message(session: C2SSession, m: Element, toJid: Jid | undefined): Promise<void> {
    const to = toJid ?? parseJid(session.bareJid)!;
    if (to.domain !== this.domain) {
      const component = this.services.component(to.domain);
      if (component?.message) return await component.message(session, m, to);
      if (m.attrs.type === 'error') return;
      if (component) return void session.send(stanzaError(m, 'cancel', 'service-unavailable'));
      return void session.send(stanzaError(m, 'cancel', 'remote-server-not-found', 'This server does not talk to other servers'));
    }
    if (!to.local) return; // messages to the server itself are ignored
    const user = to.local;
    if (!(await this.userExists(user))) {
      if (m.attrs.type !== 'error') session.send(stanzaError(m, 'cancel', 'service-unavailable', `There is no user ${to.bare}`));
      return;
    }
    await this.messages.fromClient(session, m, user, to.bare, to.resource ? to.full : undefined);
  }

  #iq(session: C2SSession, iq: Element, to: Jid | undefined): Handled {
    const type = iq.attrs.type;
    if (type !== 'get' && type !== 'set' && type !== 'result' && type !== 'error') {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'iq type must be get, set, result or error'));
      return;
    }
    const query = type === 'get' || type === 'set';
    const payload = childElements(iq)[0];
    if (query && (!iq.attrs.id || childElements(iq).length !== 1)) {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'A get or set iq has an id and exactly one child'));
      return;
    }
    if (to && to.domain !== this.domain) {
      const component = this.services.component(to.domain);
      if (component?.iq) return component.iq(session, iq, to);
      if (query) session.send(stanzaError(iq, 'cancel', component ? 'service-unavailable' : 'remote-server-not-found'));
      return;
    }
    // To a full JID of another session (another user's, or another of the sender's own): passed on.
    if (to?.local && to.resource && to.full !== session.fullJid) {
      const target = this.sessionByJid(to.full);
      if (target?.isActive) target.send(iq);
      else if (query) session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
      return;
    }
    if (!query) return; // answers to server pings etc.
    // To another user's bare JID: the server answers some queries on the account's behalf (RFC 6121 §8.5.1).
    if (to?.local && to.bare !== session.bareJid) {
      const handler = type === 'get' ? this.services.iqHandler('account', payload!.attrs.xmlns) : undefined;
      if (handler) return handler(session, iq, payload!, to);
      return session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
    }
    // For the sender: to the server, or to their own bare (or full) JID.
    const handler = this.services.iqHandler('self', payload!.attrs.xmlns);
    if (handler) return handler(session, iq, payload!, to);
    session.send(stanzaError(iq, 'cancel', 'service-unavailable', `The server does not support ${payload!.attrs.xmlns ?? payload!.name}`));
  }
}
