/**
 * Parley's XMPP server (RFC 6120/6121): the hub that owns client sessions and routes stanzas
 * between them and the services — roster and subscriptions, presence (with "in a call" from
 * the SIP side), messages (offline, archive, carbons), group chat, vCards, uploads.
 *
 * Every stanza a client sends gets its `from` stamped here; a client that claims to be someone
 * else loses its stream (<invalid-from/>).
 */
import type { Element } from 'ltx';
import type { GatewayConfig } from '../config.js';
import type { AccountStore } from '../directory/accountStore.js';
import type { Db } from '../storage/database.js';
import type { Logger } from '../util/logger.js';
import { parseJid, type Jid } from './core/jid.js';
import { NS } from './core/namespaces.js';
import { childElements, el, stanzaError, StreamError } from './core/xml.js';
import { ArchiveStore } from './im/archiveStore.js';
import { MamService } from './im/mamService.js';
import { MessageService } from './im/messageService.js';
import { OfflineStore } from './im/offlineStore.js';
import { MucService } from './muc/mucService.js';
import { PresenceService } from './presence/presenceService.js';
import { RosterService } from './roster/rosterService.js';
import { RosterStore } from './roster/rosterStore.js';
import type { XmppContext } from './router/xmppContext.js';
import { C2SSession, type SessionHost } from './session/c2sSession.js';
import type { XmppAuthenticator } from './session/sasl.js';
import { VCardService } from './services/vcardService.js';
import type { StreamTransport } from './transport/streamTransport.js';
import type { UploadService } from './upload/uploadService.js';

export interface XmppServerOptions {
  config: GatewayConfig;
  db: Db;
  accounts: AccountStore;
  auth: XmppAuthenticator;
  upload: UploadService;
  logger: Logger;
}

const SERVER_FEATURES = [
  NS.discoInfo,
  NS.discoItems,
  NS.ping,
  NS.vcard,
  NS.carbons,
  NS.mam,
  NS.sid,
  NS.offline,
  NS.version,
  'urn:xmpp:time',
];

export class XmppServer implements SessionHost, XmppContext {
  readonly domain: string;
  readonly mucDomain: string;
  readonly uploadDomain: string;
  readonly config: GatewayConfig['xmpp'];
  readonly auth: XmppAuthenticator;
  readonly logger: Logger;
  readonly archive: ArchiveStore;
  readonly presence: PresenceService;
  readonly roster: RosterService;
  readonly messages: MessageService;
  readonly muc: MucService;
  readonly vcards: VCardService;
  readonly #mam: MamService;
  readonly #upload: UploadService;
  readonly #rosterStore: RosterStore;
  readonly #accounts: AccountStore;
  readonly #byJid = new Map<string, C2SSession>();
  readonly #byUser = new Map<string, Set<C2SSession>>();
  readonly #all = new Set<C2SSession>();

  constructor(o: XmppServerOptions) {
    this.domain = o.config.domain;
    this.mucDomain = `conference.${o.config.domain}`;
    this.uploadDomain = `upload.${o.config.domain}`;
    this.config = o.config.xmpp;
    this.auth = o.auth;
    this.logger = o.logger;
    this.#accounts = o.accounts;
    this.#upload = o.upload;
    this.#rosterStore = new RosterStore(o.db);
    this.archive = new ArchiveStore(o.config.dataDir);
    this.archive.onError = (err) => this.logger.error({ err }, 'XMPP archive write failed');
    this.#mam = new MamService(this.archive);
    this.vcards = new VCardService(o.db);
    this.presence = new PresenceService(this, this.#rosterStore, { initialPresence: (s) => this.#initialPresence(s) });
    this.roster = new RosterService(this, this.#rosterStore, this.presence);
    this.messages = new MessageService(this, this.archive, new OfflineStore(o.db, o.config.xmpp.offlineMax), this.roster, {
      strangerMessages: o.config.xmpp.strangerMessages,
    });
    this.muc = new MucService(this, o.db, this.archive, this.#mam, this.messages, o.config.xmpp.mucHistory);
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

  sessionsOf(username: string): C2SSession[] {
    const set = this.#byUser.get(username);
    return set ? [...set] : [];
  }

  sessionByJid(fullJid: string): C2SSession | undefined {
    return this.#byJid.get(fullJid);
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
    const set = this.#byUser.get(user) ?? new Set<C2SSession>();
    if (set.size >= this.config.maxSessionsPerUser) return 'too-many';
    set.add(session);
    this.#byUser.set(user, set);
    this.#byJid.set(full, session);
    return 'ok';
  }

  findResumable(previd: string, username: string): C2SSession | undefined {
    for (const s of this.sessionsOf(username)) if (s.smId === previd) return s;
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
    this.presence.sessionEnded(session);
    this.muc.sessionEnded(session);
    this.messages.rescue(user, unacked);
    if (!this.#byUser.has(user)) this.#rosterStore.evict(user);
  }

  /** Unified presence: called by the SIP side when a user's call starts or ends. */
  setInCall(username: string, inCall: boolean): void {
    this.presence.setInCall(username, inCall);
  }

  /** Ends every session and writes out the archive (server shutdown). */
  async shutdown(): Promise<void> {
    for (const s of [...this.#all]) s.close(new StreamError('system-shutdown', 'The server is restarting; reconnect in a moment'));
    await this.archive.close();
  }

  // ---- routing -------------------------------------------------------------------------

  route(session: C2SSession, stanza: Element): void {
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
      if (stanza.name === 'message') this.#message(session, stanza, to);
      else if (stanza.name === 'presence') this.#presence(session, stanza, to);
      else this.#iq(session, stanza, to);
    } catch (err) {
      this.logger.error({ err, stanza: stanza.name }, 'XMPP stanza handling failed');
      if (stanza.attrs.type !== 'error' && stanza.attrs.type !== 'result') session.send(stanzaError(stanza, 'cancel', 'internal-server-error'));
    }
  }

  #presence(session: C2SSession, p: Element, to: Jid | undefined): void {
    if (!to) return this.presence.broadcastFrom(session, p);
    const type = p.attrs.type;
    if (to.domain === this.mucDomain) return this.muc.handlePresence(session, p, to);
    if (type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed') {
      if (to.domain !== this.domain || !to.local) return;
      return void this.roster.handleSubscription(session, p, to.bare).catch((err: unknown) => this.logger.error({ err }, 'XMPP subscription handling failed'));
    }
    if (type === 'probe' || type === 'error') return;
    if (to.domain !== this.domain) return; // no federation: nothing to deliver to
    this.presence.directedFrom(session, p, to.full);
  }

  #message(session: C2SSession, m: Element, toJid: Jid | undefined): void {
    const to = toJid ?? parseJid(session.bareJid)!;
    if (to.domain === this.mucDomain) return this.muc.handleMessage(session, m, to);
    if (to.domain !== this.domain) {
      if (to.domain === this.uploadDomain) return void session.send(stanzaError(m, 'cancel', 'service-unavailable'));
      if (m.attrs.type !== 'error') session.send(stanzaError(m, 'cancel', 'remote-server-not-found', 'This server does not talk to other servers'));
      return;
    }
    if (!to.local) return; // messages to the server itself are ignored
    const user = to.local;
    void this.userExists(user).then((exists) => {
      if (!exists) {
        if (m.attrs.type !== 'error') session.send(stanzaError(m, 'cancel', 'service-unavailable', `There is no user ${to.bare}`));
        return;
      }
      this.messages.fromClient(session, m, user, to.bare, to.resource ? to.full : undefined);
    });
  }

  #iq(session: C2SSession, iq: Element, to: Jid | undefined): void {
    const type = iq.attrs.type;
    if (type !== 'get' && type !== 'set' && type !== 'result' && type !== 'error') {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'iq type must be get, set, result or error'));
      return;
    }
    const payload = childElements(iq)[0];
    if ((type === 'get' || type === 'set') && (!iq.attrs.id || childElements(iq).length !== 1)) {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'A get or set iq has an id and exactly one child'));
      return;
    }
    if (to && to.domain === this.mucDomain) return this.muc.handleIq(session, iq, to);
    if (to && to.domain === this.uploadDomain) {
      if (type === 'get' || type === 'set') this.#upload.handleIq(session, iq, payload);
      return;
    }
    if (to && to.domain !== this.domain) {
      if (type === 'get' || type === 'set') session.send(stanzaError(iq, 'cancel', 'remote-server-not-found'));
      return;
    }
    // To another user.
    if (to && to.local && to.bare !== session.bareJid) {
      if (to.resource) {
        const target = this.#byJid.get(to.full);
        if (target?.isActive) target.send(iq);
        else if (type === 'get' || type === 'set') session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
        return;
      }
      if (type === 'result' || type === 'error') return;
      // The server answers some queries on behalf of the account (RFC 6121 §8.5.1).
      if (payload?.name === 'vCard' && payload.attrs.xmlns === NS.vcard && type === 'get') return this.vcards.handleIq(session, iq, to.bare);
      if (payload?.attrs.xmlns === NS.discoInfo && type === 'get') {
        return void this.userExists(to.local).then((exists) =>
          session.send(exists ? this.#result(iq, el('query', { xmlns: NS.discoInfo }, el('identity', { category: 'account', type: 'registered' }), el('feature', { var: NS.discoInfo }), el('feature', { var: NS.vcard }))) : stanzaError(iq, 'cancel', 'service-unavailable')),
        );
      }
      return session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
    }
    if (to?.resource && to.bare === session.bareJid && to.full !== session.fullJid) {
      // Between two resources of the same user.
      const target = this.#byJid.get(to.full);
      if (target?.isActive) target.send(iq);
      else if (type === 'get' || type === 'set') session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
      return;
    }
    if (type === 'result' || type === 'error') return; // answers to server pings etc.
    this.#serverIq(session, iq, payload!, to);
  }

  /** IQs for the server or the user's own account. */
  #serverIq(session: C2SSession, iq: Element, payload: Element, to: Jid | undefined): void {
    const ns = payload.attrs.xmlns;
    const forAccount = to?.local !== undefined;
    switch (ns) {
      case NS.roster:
        return this.roster.handleIq(session, iq, payload);
      case NS.vcard:
        return this.vcards.handleIq(session, iq, session.bareJid);
      case NS.ping:
        return session.send(this.#result(iq));
      case NS.session:
        return session.send(this.#result(iq));
      case NS.carbons:
        if (iq.attrs.type !== 'set' || (payload.name !== 'enable' && payload.name !== 'disable')) return session.send(stanzaError(iq, 'modify', 'bad-request'));
        session.carbons = payload.name === 'enable';
        return session.send(this.#result(iq));
      case NS.mam:
        return void this.#mam.query(session, iq, payload, session.username!, session.bareJid).catch((err: unknown) => {
          this.logger.error({ err }, 'MAM query failed');
          session.send(stanzaError(iq, 'wait', 'internal-server-error'));
        });
      case NS.version:
        return session.send(this.#result(iq, el('query', { xmlns: NS.version }, el('name', {}, 'Parley'), el('version', {}, '0.1'))));
      case 'urn:xmpp:time': {
        const now = new Date();
        return session.send(this.#result(iq, el('time', { xmlns: 'urn:xmpp:time' }, el('tzo', {}, '+00:00'), el('utc', {}, now.toISOString()))));
      }
      case NS.discoInfo:
        if (forAccount) {
          return session.send(this.#result(iq, el('query', { xmlns: NS.discoInfo }, el('identity', { category: 'account', type: 'registered' }), ...[NS.discoInfo, NS.mam, NS.vcard].map((v) => el('feature', { var: v })))));
        }
        return session.send(this.#result(iq, el('query', { xmlns: NS.discoInfo, node: payload.attrs.node }, el('identity', { category: 'server', type: 'im', name: 'Parley' }), ...SERVER_FEATURES.map((v) => el('feature', { var: v })))));
      case NS.discoItems:
        return session.send(
          this.#result(iq, el('query', { xmlns: NS.discoItems }, ...(forAccount ? [] : [el('item', { jid: this.mucDomain, name: 'Group chats' }), el('item', { jid: this.uploadDomain, name: 'File uploads' })]))),
        );
      case NS.bind:
        return session.send(stanzaError(iq, 'cancel', 'not-allowed', 'A resource is already bound'));
    }
    session.send(stanzaError(iq, 'cancel', 'service-unavailable', `The server does not support ${ns ?? payload.name}`));
  }

  #result(iq: Element, payload?: Element): Element {
    return el('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, payload);
  }

  #initialPresence(session: C2SSession): void {
    // The user is back on a new connection: sessions waiting for resumption hand over what
    // they held (a closed browser tab never resumes; a device that does just signs in again).
    for (const other of this.sessionsOf(session.username!)) if (other !== session && other.state === 'hibernating') other.endHibernation();
    for (const request of this.roster.pendingRequests(session.username!)) {
      request.attrs.to = session.bareJid;
      session.send(request);
    }
    this.messages.deliverOffline(session);
  }
}
