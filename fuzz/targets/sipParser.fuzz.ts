/**
 * Fuzz target: the SIP parser (RFC 3261 §7, §25) on datagram and stream framing, and every
 * lazily parsed header a handler may touch. Parsing may refuse input (ok: false) and header
 * accessors may throw their own parse errors; anything else is a bug, as is a message we
 * parsed whose serialisation we cannot parse again.
 */
import { CSeqParseError, SipRequest, type SipMessage } from '../../gateway/src/sip/core/message.js';
import { NameAddrParseError } from '../../gateway/src/sip/core/nameAddr.js';
import { parseMessage } from '../../gateway/src/sip/core/parser.js';
import { UriParseError } from '../../gateway/src/sip/core/uri.js';
import { ViaParseError } from '../../gateway/src/sip/core/via.js';

const LIMITS = { maxHeaders: 128 };
const EXPECTED = [CSeqParseError, NameAddrParseError, UriParseError, ViaParseError];

function touch(read: () => unknown): void {
  try {
    read();
  } catch (err) {
    if (!EXPECTED.some((E) => err instanceof E)) throw err;
  }
}

function exercise(m: SipMessage): void {
  touch(() => m.vias);
  touch(() => m.topVia?.params.get('branch'));
  touch(() => m.callId);
  touch(() => m.cseq.seq);
  touch(() => m.from.tag);
  touch(() => m.to.uri.toString());
  touch(() => m.contacts.map((c) => c.uri.toString()));
  touch(() => m.routes.length);
  touch(() => m.recordRoutes.length);
  if (m instanceof SipRequest) touch(() => m.parsedUri.toString());
}

export function fuzz(data: Buffer): void {
  for (const datagram of [true, false]) {
    const result = parseMessage(data, LIMITS, datagram);
    if (!result.ok) continue;
    exercise(result.message);
    const again = parseMessage(result.message.toBuffer(), LIMITS, true);
    if (!again.ok) throw new Error(`a message the parser accepted does not parse after serialisation: ${again.reason}`);
  }
}
