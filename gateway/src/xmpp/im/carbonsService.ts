/**
 * Message carbons (XEP-0280): a session that enables them gets a copy of every chat message its
 * user sends or receives on their other devices. Whether a session enabled carbons is this
 * service's state, kept here rather than on the session.
 */
import type { Element } from 'ltx';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { child, clone, el, stanzaError } from '../core/xml.js';
import { result, type XmppService, type XmppServiceHost } from '../router/serviceRegistry.js';
import type { SessionRef, XmppContext } from '../router/xmppContext.js';
import type { C2SSession } from '../session/c2sSession.js';

export class CarbonsService implements XmppService {
  readonly #enabled = new WeakSet<SessionRef>();

  constructor(private readonly ctx: XmppContext) {}

  register(host: XmppServiceHost): void {
    host.onIq('self', NS.carbons, (session, iq, payload) => {
      if (iq.attrs.type !== 'set' || (payload.name !== 'enable' && payload.name !== 'disable')) {
        return session.send(stanzaError(iq, 'modify', 'bad-request'));
      }
      if (payload.name === 'enable') this.#enabled.add(session);
      else this.#enabled.delete(session);
      this.ctx.sessionChanged(session);
      session.send(result(iq));
    });
    host.addFeature('server', NS.carbons);
  }

  isEnabled(session: SessionRef): boolean {
    return this.#enabled.has(session);
  }

  /** Whether a session on another node enabled carbons (that node told us). */
  mirror(remote: SessionRef, enabled: boolean): void {
    if (enabled) this.#enabled.add(remote);
    else this.#enabled.delete(remote);
  }

  /** `sender` sent `message`: copies go to the sender's other sessions that enabled carbons. */
  copySent(sender: C2SSession, message: Element): void {
    if (!carbonable(message)) return;
    for (const s of this.ctx.sessionsOf(sender.username!)) {
      if (s === sender || !this.#enabled.has(s) || !s.isActive) continue;
      s.send(wrap('sent', sender.bareJid, s.fullJid, message));
    }
  }

  /** `message` was delivered to `target` (a full JID): copies go to the user's other sessions. */
  copyReceived(user: string, target: SessionRef, message: Element): void {
    if (!carbonable(message)) return;
    for (const s of this.ctx.sessionsOf(user)) {
      if (s === target || !this.#enabled.has(s) || !s.isActive) continue;
      s.send(wrap('received', target.bareJid, s.fullJid, message));
    }
  }
}

function wrap(kind: 'sent' | 'received', from: string, to: string, message: Element): Element {
  return el('message', { from, to, type: message.attrs.type }, el(kind, { xmlns: NS.carbons }, el('forwarded', { xmlns: NS.forward }, clone(message))));
}

/** XEP-0280 §6: chat messages (and normal ones with a body) are copied, unless marked private. */
function carbonable(m: Element): boolean {
  const type = m.attrs.type ?? 'normal';
  if (child(m, 'private', NS.carbons) || child(m, 'no-copy', NS.hints)) return false;
  return type === 'chat' || (type === 'normal' && child(m, 'body') !== undefined);
}
