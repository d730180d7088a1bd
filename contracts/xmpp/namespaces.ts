/**
 * XML namespaces on the XMPP wire, one table for Parley's XMPP server and its web chat client:
 * the standard ones both speak (RFC 6120/6121 and the XEPs named beside them) and the ones
 * Parley defines itself (`PARLEY_NS`).
 */

/** Namespaces Parley defines. Other clients may ignore them; nothing standard depends on them. */
export const PARLEY_NS = {
  /**
   * In a user's presence while they are in a SIP call: `<call xmlns='urn:parley:call:0'/>`,
   * next to `<show>dnd</show>` and the status "In a call" that standard clients display.
   */
  call: 'urn:parley:call:0',
} as const;

/** The element that carries PARLEY_NS.call in presence. */
export const IN_CALL_ELEMENT = 'call';

export const NS = {
  /** XEP-0172 user nickname (a subscription request carries the asker's display name). */
  nick: 'http://jabber.org/protocol/nick',
  client: 'jabber:client',
  stream: 'http://etherx.jabber.org/streams',
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams',
  stanzaErrors: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  tls: 'urn:ietf:params:xml:ns:xmpp-tls',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  session: 'urn:ietf:params:xml:ns:xmpp-session',
  sm: 'urn:xmpp:sm:3',
  roster: 'jabber:iq:roster',
  rosterVer: 'urn:xmpp:features:rosterver',
  preApproval: 'urn:xmpp:features:pre-approval',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  discoItems: 'http://jabber.org/protocol/disco#items',
  caps: 'http://jabber.org/protocol/caps',
  ping: 'urn:xmpp:ping',
  time: 'urn:xmpp:time',
  vcard: 'vcard-temp',
  vcardUpdate: 'vcard-temp:x:update',
  carbons: 'urn:xmpp:carbons:2',
  forward: 'urn:xmpp:forward:0',
  delay: 'urn:xmpp:delay',
  mam: 'urn:xmpp:mam:2',
  rsm: 'http://jabber.org/protocol/rsm',
  dataForms: 'jabber:x:data',
  sid: 'urn:xmpp:sid:0',
  hints: 'urn:xmpp:hints',
  chatStates: 'http://jabber.org/protocol/chatstates',
  receipts: 'urn:xmpp:receipts',
  markers: 'urn:xmpp:chat-markers:0',
  offline: 'msgoffline',
  oob: 'jabber:x:oob',
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
  mucAdmin: 'http://jabber.org/protocol/muc#admin',
  mucOwner: 'http://jabber.org/protocol/muc#owner',
  mucRoomConfig: 'http://jabber.org/protocol/muc#roomconfig',
  mucRoomInfo: 'http://jabber.org/protocol/muc#roominfo',
  conference: 'jabber:x:conference',
  upload: 'urn:xmpp:http:upload:0',
  version: 'jabber:iq:version',
  bosh: 'http://jabber.org/protocol/httpbind',
  xbosh: 'urn:xmpp:xbosh',
} as const;
