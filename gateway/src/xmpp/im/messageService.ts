/**
 * One-to-one messages (RFC 6121 §5, §8.5): delivery to bare and full JIDs, offline storage
 * (XEP-0160), the archive (XEP-0313) with stanza ids (XEP-0359), and carbons (XEP-0280).
 * Chat states (XEP-0085), receipts (XEP-0184) and markers (XEP-0333) pass through untouched.
 */
import type { Element } from 'ltx';
import { parse as parseXml } from 'ltx';
import { NS } from '../core/namespaces.js';
import { clone, child, childNs, el, isoStamp, stanzaError } from '../core/xml.js';
import type { RosterService } from '../roster/rosterService.js';
import { localUser, type XmppContext } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';
import type { ArchiveStore } from './archiveStore.js';
import type { OfflineStore } from './offlineStore.js';

export interface MessageServiceOptions {
  strangerMessages: 'refuse' | 'allow';
}

export class MessageService {
  constructor(
    private readonly ctx: XmppContext,
    private readonly archive: ArchiveStore,
    private readonly offline: OfflineStore,
    private readonly roster: RosterService,
    private readonly options: MessageServiceOptions,
  ) {}

  /** A message from a local client to a local user (`to` already validated, `from` stamped). */
  fromClient(session: C2SSession, message: Element, toUser: string, toBare: string, toFull: string | undefined): void {
    const type = message.attrs.type ?? 'normal';
    if (type === 'groupchat') {
      session.send(stanzaError(message, 'modify', 'bad-request', 'groupchat messages go to a room'));
      return;
    }
    const senderBare = session.bareJid;
    if (
      this.options.strangerMessages === 'refuse' &&
      type !== 'error' &&
      toBare !== senderBare &&
      !this.roster.acceptsMessagesFrom(toUser, senderBare)
    ) {
      session.send(stanzaError(message, 'auth', 'forbidden', `${toUser} has not accepted you as a contact yet; send a contact request first`));
      return;
    }
    const archived = hasBody(message) && (type === 'chat' || type === 'normal') && !noStore(message);
    if (archived) {
      // The sender's copy; its id goes back to the sender's other devices through carbons.
      const id = this.archive.newId();
      this.archive.append(session.username!, id, toBare, message.toString());
    }
    if (carbonable(message)) this.#carbonsSent(session, message);
    this.deliver(message, toUser, toBare, toFull, archived);
  }

  /** RFC 6121 §8.5.2/§8.5.3 delivery to a local user, archive and offline storage included. */
  deliver(message: Element, toUser: string, toBare: string, toFull: string | undefined, archive: boolean): void {
    const type = message.attrs.type ?? 'normal';
    let out = message;
    if (archive) {
      const id = this.archive.newId();
      out = clone(message);
      out.children = out.children.filter((c) => typeof c === 'string' || !(c.name === 'stanza-id' && c.attrs.xmlns === NS.sid && c.attrs.by === toBare));
      out.cnode(el('stanza-id', { xmlns: NS.sid, by: toBare, id }));
      this.archive.append(toUser, id, bareOfFrom(message), out.toString());
    }
    const sessions = this.ctx.sessionsOf(toUser);
    if (toFull) {
      const target = this.ctx.sessionByJid(toFull);
      if (target) {
        target.send(out);
        if (carbonable(out)) this.#carbonsReceived(toUser, target, out);
        return;
      }
      // RFC 6121 §8.5.3.2.1: no such resource — chat/normal go on as if sent to the bare JID.
      if (type === 'error' || type === 'headline' || type === 'groupchat') return;
    }
    if (type === 'error' || type === 'groupchat') return;
    // All available resources with non-negative priority get chat/normal messages (§8.5.2.1.1 b).
    const targets = sessions.filter((s) => s.available && s.priority >= 0);
    if (targets.length) {
      for (const s of targets) s.send(out);
      return;
    }
    if (type === 'headline') return;
    if (!hasBody(message) && !childNs(message, NS.muc + '#user')) return; // chat states etc. are not worth storing
    const stored = el(out.name, { ...out.attrs }, ...out.children);
    stored.cnode(el('delay', { xmlns: NS.delay, from: this.ctx.domain, stamp: isoStamp(Date.now()) }, 'Offline storage'));
    if (!this.offline.store(toUser, stored.toString())) {
      const from = message.attrs.from;
      const sender = from ? localUser(this.ctx, from.split('/')[0]) : undefined;
      if (sender) {
        const bounce = stanzaError(message, 'wait', 'resource-constraint', `${toUser}'s offline message store is full`);
        for (const s of this.ctx.sessionsOf(sender)) if (s.fullJid === from) s.send(bounce);
      }
    }
  }

  /** Hands a freshly available session the messages stored while its user was offline. */
  deliverOffline(session: C2SSession): void {
    if (session.priority < 0) return;
    const { messages, done } = this.offline.pending(session.username!);
    if (!messages.length) return;
    for (const m of messages) {
      try {
        const stanza = parseXml(m.stanza) as Element;
        stanza.attrs.to = session.fullJid;
        session.send(stanza);
      } catch {
        // A row that does not parse is dropped (it was written by us; never expected).
      }
    }
    done();
  }

  /**
   * Messages a session never acknowledged (XEP-0198) are not lost: they go to the user's other
   * connected devices, or to offline storage when there are none.
   */
  rescue(username: string, stanzas: Element[]): void {
    const others = this.ctx.sessionsOf(username).filter((x) => x.isActive && x.available);
    for (const s of stanzas) {
      if (s.name !== 'message' || !hasBody(s) || s.attrs.type === 'groupchat' || s.attrs.type === 'error') continue;
      const copy = clone(s);
      if (!child(copy, 'delay', NS.delay)) copy.cnode(el('delay', { xmlns: NS.delay, from: this.ctx.domain, stamp: isoStamp(Date.now()) }, 'Redelivered'));
      if (others.length) {
        for (const o of others) {
          const c = clone(copy);
          c.attrs.to = o.fullJid;
          o.send(c);
        }
      } else this.offline.store(username, copy.toString());
    }
  }

  #carbonsSent(session: C2SSession, message: Element): void {
    for (const s of this.ctx.sessionsOf(session.username!)) {
      if (s === session || !s.carbons || !s.isActive) continue;
      s.send(el('message', { from: session.bareJid, to: s.fullJid, type: message.attrs.type }, el('sent', { xmlns: NS.carbons }, el('forwarded', { xmlns: NS.forward }, clone(message)))));
    }
  }

  #carbonsReceived(user: string, target: C2SSession, message: Element): void {
    for (const s of this.ctx.sessionsOf(user)) {
      if (s === target || !s.carbons || !s.isActive) continue;
      s.send(el('message', { from: target.bareJid, to: s.fullJid, type: message.attrs.type }, el('received', { xmlns: NS.carbons }, el('forwarded', { xmlns: NS.forward }, clone(message)))));
    }
  }
}

export function hasBody(m: Element): boolean {
  return child(m, 'body') !== undefined;
}

function noStore(m: Element): boolean {
  return child(m, 'no-store', NS.hints) !== undefined || child(m, 'no-permanent-store', NS.hints) !== undefined;
}

/** XEP-0280 §6: chat messages (and normal ones with a body) are copied, unless marked private. */
function carbonable(m: Element): boolean {
  const type = m.attrs.type ?? 'normal';
  if (child(m, 'private', NS.carbons) || child(m, 'no-copy', NS.hints)) return false;
  return type === 'chat' || (type === 'normal' && hasBody(m));
}

function bareOfFrom(m: Element): string {
  const from = m.attrs.from ?? '';
  const slash = from.indexOf('/');
  return slash >= 0 ? from.slice(0, slash) : from;
}
