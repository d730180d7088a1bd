/**
 * Message Archive Management (XEP-0313 v2) queries with Result Set Management (XEP-0059)
 * paging, for a user's own archive and for group chat rooms.
 */
import type { Element } from 'ltx';
import { parse as parseXml } from 'ltx';
import { bareOf } from '../core/jid.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { child, childElements, el, isoStamp, stanzaError, textOf } from '../core/xml.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import type { SessionRef, XmppContext } from '../router/xmppContext.js';
import type { ArchiveStore } from '../../storage/archive/archiveStore.js';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;

export class MamService implements XmppService {
  constructor(
    private readonly ctx: XmppContext,
    private readonly archive: ArchiveStore,
  ) {}

  /** The user's own archive; rooms answer queries on their archives themselves (MucService). */
  register(host: XmppServiceHost): void {
    host.onIq('self', NS.mam, (session, iq, query) => {
      this.query(session, iq, query, session.username!, session.bareJid).catch((err: unknown) => {
        this.ctx.logger.error({ err }, 'MAM query failed');
        session.send(stanzaError(iq, 'wait', 'internal-server-error'));
      });
    });
    host.addFeature('server', NS.mam);
    host.addFeature('account', NS.mam);
  }

  /** Answers a MAM query on `owner`'s archive (a username, or a room's bare JID). */
  async query(session: SessionRef, iq: Element, query: Element, owner: string, archiveJid: string): Promise<void> {
    if (iq.attrs.type === 'get') {
      // The search form: what may be filtered on.
      session.send(
        el(
          'iq',
          { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: session.fullJid },
          el(
            'query',
            { xmlns: NS.mam },
            el(
              'x',
              { xmlns: NS.dataForms, type: 'form' },
              el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.mam)),
              el('field', { var: 'with', type: 'jid-single' }),
              el('field', { var: 'start', type: 'text-single' }),
              el('field', { var: 'end', type: 'text-single' }),
            ),
          ),
        ),
      );
      return;
    }
    if (iq.attrs.type !== 'set') {
      session.send(stanzaError(iq, 'modify', 'bad-request'));
      return;
    }
    const fields = new Map<string, string>();
    const form = child(query, 'x', NS.dataForms);
    for (const f of form ? childElements(form).filter((c) => c.name === 'field') : []) fields.set(f.attrs.var ?? '', textOf(child(f, 'value')));
    const set = child(query, 'set', NS.rsm);
    const maxText = set ? textOf(child(set, 'max')) : '';
    const max = Math.min(MAX_PAGE, maxText ? Math.max(0, Number(maxText) || 0) : DEFAULT_PAGE);
    const beforeEl = set ? child(set, 'before') : undefined;
    const afterEl = set ? child(set, 'after') : undefined;
    const start = fields.get('start') ? Date.parse(fields.get('start')!) : undefined;
    const end = fields.get('end') ? Date.parse(fields.get('end')!) : undefined;
    if ((start !== undefined && Number.isNaN(start)) || (end !== undefined && Number.isNaN(end))) {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'start and end are XEP-0082 date-times'));
      return;
    }
    const result = await this.archive.query({
      owner,
      with: fields.get('with') ? bareOf(fields.get('with')!).toLowerCase() : undefined,
      start,
      end,
      before: beforeEl ? beforeEl.getText() : undefined,
      after: afterEl ? afterEl.getText() : undefined,
      max,
    });
    if (result === 'item-not-found') {
      session.send(stanzaError(iq, 'cancel', 'item-not-found', 'No message with that id in this archive'));
      return;
    }
    const queryId = query.attrs.queryid;
    for (const m of result.messages) {
      let stanza: Element;
      try {
        stanza = parseXml(m.stanza) as Element;
      } catch {
        continue;
      }
      stanza.attrs.xmlns = NS.client;
      session.send(
        el(
          'message',
          { from: archiveJid, to: session.fullJid, id: `mam-${m.id}` },
          el('result', { xmlns: NS.mam, queryid: queryId, id: m.id }, el('forwarded', { xmlns: NS.forward }, el('delay', { xmlns: NS.delay, stamp: isoStamp(m.stamp) }), stanza)),
        ),
      );
    }
    const first = result.messages[0];
    const last = result.messages[result.messages.length - 1];
    session.send(
      el(
        'iq',
        { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: session.fullJid },
        el(
          'fin',
          { xmlns: NS.mam, complete: result.complete ? 'true' : undefined },
          el('set', { xmlns: NS.rsm }, first ? el('first', {}, first.id) : undefined, last ? el('last', {}, last.id) : undefined, el('count', {}, String(result.count))),
        ),
      ),
    );
  }
}
