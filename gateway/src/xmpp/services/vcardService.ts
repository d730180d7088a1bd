/** vCards (XEP-0054) and the avatar hash advertised in presence (XEP-0153). */
import crypto from 'node:crypto';
import type { Element } from 'ltx';
import { parse as parseXml } from 'ltx';
import type { VCardRecords } from '../../storage/records/vcardRecords.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { child, el, stanzaError } from '../core/xml.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import type { C2SSession } from '../session/c2sSession.js';

const MAX_VCARD_BYTES = 200 * 1024;

export class VCardService implements XmppService {
  constructor(private readonly records: VCardRecords) {}

  register(host: XmppServiceHost): void {
    // Your own vCard (get and set), and anyone's on this server (get, answered for the account).
    host.onIq('self', NS.vcard, (session, iq) => this.handleIq(session, iq, session.bareJid));
    host.onIq('account', NS.vcard, (session, iq, _payload, to) => this.handleIq(session, iq, to!.bare));
    host.addFeature('server', NS.vcard);
    host.addFeature('account', NS.vcard);
  }

  /** The SHA-1 of a user's avatar, for <x xmlns='vcard-temp:x:update'><photo/> (undefined: none). */
  async photoHash(owner: string): Promise<string | undefined> {
    return (await this.records.get(owner))?.photoHash;
  }

  /** An IQ with a vCard payload for `owner` (a bare JID of this server). */
  async handleIq(session: C2SSession, iq: Element, owner: string): Promise<void> {
    if (iq.attrs.type === 'get') {
      const row = await this.records.get(owner);
      let vcard: Element = el('vCard', { xmlns: NS.vcard });
      if (row) {
        try {
          vcard = parseXml(row.vcard) as Element;
        } catch {
          // keep the empty card
        }
      }
      session.send(el('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: session.fullJid }, vcard));
      return;
    }
    if (iq.attrs.type === 'set') {
      if (owner !== session.bareJid) {
        session.send(stanzaError(iq, 'auth', 'forbidden', 'You can only change your own vCard'));
        return;
      }
      const vcard = child(iq, 'vCard', NS.vcard)!;
      const text = vcard.toString();
      if (Buffer.byteLength(text) > MAX_VCARD_BYTES) {
        session.send(stanzaError(iq, 'modify', 'not-acceptable', `A vCard (with its photo) can be at most ${MAX_VCARD_BYTES / 1024} KB`));
        return;
      }
      const binval = child(vcard, 'PHOTO')?.getChild('BINVAL')?.getText().replace(/\s+/g, '');
      const hash = binval ? crypto.createHash('sha1').update(Buffer.from(binval, 'base64')).digest('hex') : undefined;
      await this.records.put(owner, { vcard: text, photoHash: hash });
      session.send(el('iq', { type: 'result', id: iq.attrs.id, to: session.fullJid }));
      return;
    }
    session.send(stanzaError(iq, 'modify', 'bad-request'));
  }
}
