/**
 * The small server queries every client expects an answer to: ping (XEP-0199), software
 * version (XEP-0092), entity time (XEP-0202), the legacy session request (RFC 3921 §3, a no-op
 * that old clients still send), and a second resource bind (refused: one per stream).
 */
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { el, stanzaError } from '../core/xml.js';
import { result, type XmppService, type XmppServiceHost } from '../router/serviceRegistry.js';

export class BasicIqService implements XmppService {
  constructor(private readonly version: string) {}

  register(host: XmppServiceHost): void {
    host.onIq('self', NS.ping, (session, iq) => session.send(result(iq)));
    host.addFeature('server', NS.ping);
    host.onIq('self', NS.session, (session, iq) => session.send(result(iq)));
    host.onIq('self', NS.version, (session, iq) =>
      session.send(result(iq, el('query', { xmlns: NS.version }, el('name', {}, 'Parley'), el('version', {}, this.version)))),
    );
    host.addFeature('server', NS.version);
    host.onIq('self', NS.time, (session, iq) =>
      session.send(result(iq, el('time', { xmlns: NS.time }, el('tzo', {}, '+00:00'), el('utc', {}, new Date().toISOString())))),
    );
    host.addFeature('server', NS.time);
    host.onIq('self', NS.bind, (session, iq) => session.send(stanzaError(iq, 'cancel', 'not-allowed', 'A resource is already bound')));
  }
}
