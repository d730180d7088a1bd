/**
 * One-to-one messages (RFC 6121 §5, §8.5): delivery to bare and full JIDs, offline storage
 * (XEP-0160), the archive (XEP-0313) with stanza ids (XEP-0359), and carbons (XEP-0280).
 * Chat states (XEP-0085), receipts (XEP-0184) and markers (XEP-0333) pass through untouched.
 *
 * Durability: a message's archive rows and offline copy are written before the sender's
 * stream-management count covers it (`session.holdAck`), so a server that acknowledged a
 * message has it on disk; delivery to online recipients does not wait for the write.
 */
import type { Element } from 'ltx';
import { parse as parseXml } from 'ltx';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { clone, child, childNs, el, isoStamp, stanzaError } from '../core/xml.js';
import type { PresenceService } from '../presence/presenceService.js';
import type { RosterService } from '../roster/rosterService.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import { localUser, type XmppContext } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';
import type { ArchiveStore } from '../../storage/archive/archiveStore.js';
import type { OfflineRecords } from '../../storage/records/offlineRecords.js';
import type { CarbonsService } from './carbonsService.js';

export interface MessageServiceOptions {
  ctx: XmppContext;
  archive: ArchiveStore;
  offline: OfflineRecords;
  /** Most offline messages kept per user (0: no limit). */
  offlineMax: number;
  roster: RosterService;
  presence: PresenceService;
  carbons: CarbonsService;
  strangerMessages: 'refuse' | 'allow';
}

export class MessageService implements XmppService {
  readonly #o: MessageServiceOptions;

  constructor(options: MessageServiceOptions) {
    this.#o = options;
  }

  register(host: XmppServiceHost): void {
    host.addFeature('server', NS.sid);
    host.addFeature('server', NS.offline);
    host.onInitialPresence((session) => this.deliverOffline(session));
    // Stanzas a dropped session never acknowledged go to the user's other devices or offline storage.
    host.onSessionEnded((session, unacked) => this.rescue(session.username!, unacked));
  }

  /** A message from a local client to a local user (`to` already validated, `from` stamped). */
  async fromClient(session: C2SSession, message: Element, toUser: string, toBare: string, toFull: string | undefined): Promise<void> {
    const type = message.attrs.type ?? 'normal';
    if (type === 'groupchat') {
      session.send(stanzaError(message, 'modify', 'bad-request', 'groupchat messages go to a room'));
      return;
    }
    const senderBare = session.bareJid;
    if (
      this.#o.strangerMessages === 'refuse' &&
      type !== 'error' &&
      toBare !== senderBare &&
      !(await this.#o.roster.acceptsMessagesFrom(toUser, senderBare))
    ) {
      session.send(stanzaError(message, 'auth', 'forbidden', `${toUser} has not accepted you as a contact yet; send a contact request first`));
      return;
    }
    const archived = hasBody(message) && (type === 'chat' || type === 'normal') && !noStore(message);
    if (archived) {
      // The sender's copy; its id goes back to the sender's other devices through carbons.
      session.holdAck(this.#o.archive.add(session.username!, toBare, () => message.toString()).committed);
    }
    this.#o.carbons.copySent(session, message);
    const stored = this.deliver(message, toUser, toBare, toFull, archived);
    if (stored) session.holdAck(stored);
  }

  /**
   * RFC 6121 §8.5.2/§8.5.3 delivery to a local user, archive and offline storage included.
   * Delivers at once; resolves to a promise of the writes (archive row, offline copy) when
   * there are any, which settles once they are committed.
   */
  deliver(message: Element, toUser: string, toBare: string, toFull: string | undefined, archive: boolean): Promise<void> | undefined {
    const type = message.attrs.type ?? 'normal';
    let out = message;
    const writes: Array<Promise<void>> = [];
    if (archive) {
      out = clone(message);
      out.children = out.children.filter((c) => typeof c === 'string' || !(c.name === 'stanza-id' && c.attrs.xmlns === NS.sid && c.attrs.by === toBare));
      const stamped = out;
      writes.push(
        this.#o.archive.add(toUser, bareOfFrom(message), (id) => {
          stamped.cnode(el('stanza-id', { xmlns: NS.sid, by: toBare, id }));
          return stamped.toString();
        }).committed,
      );
    }
    const written = () => (writes.length ? Promise.all(writes).then(() => undefined) : undefined);
    const { ctx, presence } = this.#o;
    const sessions = ctx.sessionsOf(toUser);
    if (toFull) {
      const target = ctx.sessionByJid(toFull);
      if (target) {
        target.send(out);
        this.#o.carbons.copyReceived(toUser, target, out);
        return written();
      }
      // RFC 6121 §8.5.3.2.1: no such resource — chat/normal go on as if sent to the bare JID.
      if (type === 'error' || type === 'headline' || type === 'groupchat') return written();
    }
    if (type === 'error' || type === 'groupchat') return written();
    // All available resources with non-negative priority get chat/normal messages (§8.5.2.1.1 b).
    const targets = sessions.filter((s) => presence.isAvailable(s) && presence.priorityOf(s) >= 0);
    if (targets.length) {
      for (const s of targets) s.send(out);
      return written();
    }
    if (type === 'headline') return written();
    if (!hasBody(message) && !childNs(message, NS.muc + '#user')) return written(); // chat states etc. are not worth storing
    const stored = el(out.name, { ...out.attrs }, ...out.children);
    const now = Date.now();
    stored.cnode(el('delay', { xmlns: NS.delay, from: ctx.domain, stamp: isoStamp(now) }, 'Offline storage'));
    writes.push(
      this.#o.offline.store(toUser, { stanza: stored.toString(), stamp: now }, this.#o.offlineMax).then((kept) => {
        if (kept) return;
        const from = message.attrs.from;
        const sender = from ? localUser(ctx, from.split('/')[0]) : undefined;
        if (sender) {
          const bounce = stanzaError(message, 'wait', 'resource-constraint', `${toUser}'s offline message store is full`);
          for (const s of ctx.sessionsOf(sender)) if (s.fullJid === from) s.send(bounce);
        }
      }),
    );
    return written();
  }

  /** Hands a freshly available session the messages stored while its user was offline. */
  async deliverOffline(session: C2SSession): Promise<void> {
    if (this.#o.presence.priorityOf(session) < 0) return;
    // Taken (deleted and returned in one statement): with two sessions coming online at once,
    // on this gateway or another, each message goes to exactly one of them. If this session
    // then drops without acknowledging them, `rescue` stores them again.
    const messages = await this.#o.offline.takeAll(session.username!);
    for (const m of messages) {
      try {
        const stanza = parseXml(m.stanza) as Element;
        stanza.attrs.to = session.fullJid;
        session.send(stanza);
      } catch {
        // A row that does not parse is dropped (it was written by us; never expected).
      }
    }
  }

  /**
   * Messages a session never acknowledged (XEP-0198) are not lost: they go to the user's other
   * connected devices, or to offline storage when there are none.
   */
  async rescue(username: string, stanzas: Element[]): Promise<void> {
    const { ctx, presence } = this.#o;
    const others = ctx.sessionsOf(username).filter((x) => x.isActive && presence.isAvailable(x));
    for (const s of stanzas) {
      if (s.name !== 'message' || !hasBody(s) || s.attrs.type === 'groupchat' || s.attrs.type === 'error') continue;
      const copy = clone(s);
      if (!child(copy, 'delay', NS.delay)) copy.cnode(el('delay', { xmlns: NS.delay, from: ctx.domain, stamp: isoStamp(Date.now()) }, 'Redelivered'));
      if (others.length) {
        for (const o of others) {
          const c = clone(copy);
          c.attrs.to = o.fullJid;
          o.send(c);
        }
      } else await this.#o.offline.store(username, { stanza: copy.toString(), stamp: Date.now() }, 0);
    }
  }
}

export function hasBody(m: Element): boolean {
  return child(m, 'body') !== undefined;
}

function noStore(m: Element): boolean {
  return child(m, 'no-store', NS.hints) !== undefined || child(m, 'no-permanent-store', NS.hints) !== undefined;
}

function bareOfFrom(m: Element): string {
  const from = m.attrs.from ?? '';
  const slash = from.indexOf('/');
  return slash >= 0 ? from.slice(0, slash) : from;
}
