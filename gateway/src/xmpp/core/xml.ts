/**
 * XML elements (ltx) and the errors XMPP defines (RFC 6120 §4.9 stream errors, §8.3 stanza
 * errors). Elements are always built as trees and serialized by ltx, which escapes text and
 * attribute values — never by string concatenation.
 */
import { clone, Element } from 'ltx';
import { NS } from '../../../../contracts/xmpp/namespaces.js';

export { clone, Element };

export type Attrs = Record<string, string | number | undefined>;

/** Builds an element; undefined attributes are left out, strings become text children. */
export function el(name: string, attrs: Attrs = {}, ...children: Array<Element | string | undefined | false | null>): Element {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = String(v);
  const e = new Element(name, clean);
  for (const c of children) if (c !== undefined && c !== null && c !== false) e.cnode(typeof c === 'string' ? c : c);
  return e;
}

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

/** The error reply to a stanza: same name and id, addresses swapped, type="error". */
export function stanzaError(stanza: Element, type: StanzaErrorType, condition: StanzaErrorCondition, text?: string): Element {
  const reply = el(stanza.name, { type: 'error', id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from });
  reply.cnode(
    el(
      'error',
      { type },
      el(condition, { xmlns: NS.stanzaErrors }),
      text ? el('text', { xmlns: NS.stanzaErrors, 'xml:lang': 'en' }, text) : undefined,
    ),
  );
  return reply;
}

export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-unknown'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

export function streamErrorElement(condition: StreamErrorCondition, text?: string): Element {
  return el(
    'stream:error',
    {},
    el(condition, { xmlns: NS.streamErrors }),
    text ? el('text', { xmlns: NS.streamErrors, 'xml:lang': 'en' }, text) : undefined,
  );
}

export class StreamError extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    text?: string,
  ) {
    super(text ?? condition);
  }
}

/** The first child with this name and namespace (by its own xmlns attribute). */
export function child(e: Element, name: string, xmlns?: string): Element | undefined {
  for (const c of e.children) {
    if (typeof c === 'string') continue;
    if (c.name === name && (xmlns === undefined || c.attrs.xmlns === xmlns)) return c;
  }
  return undefined;
}

/** Child elements (no text nodes). */
export function childElements(e: Element): Element[] {
  return e.children.filter((c): c is Element => typeof c !== 'string');
}

/** The first child element in namespace `xmlns`, whatever its name. */
export function childNs(e: Element, xmlns: string): Element | undefined {
  for (const c of e.children) if (typeof c !== 'string' && c.attrs.xmlns === xmlns) return c;
  return undefined;
}

export function textOf(e: Element | undefined): string {
  return e ? e.getText() : '';
}

export function isoStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
