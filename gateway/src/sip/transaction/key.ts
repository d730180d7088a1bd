/** Transaction matching keys (RFC 3261 §17.1.3 and §17.2.3, with the RFC 2543 fallback). */
import type { SipMessage, SipRequest } from '../core/message.js';
import { BRANCH_MAGIC_COOKIE } from '../core/via.js';

/** Key of the server transaction a request belongs to; ACK maps to its INVITE. */
export function serverKey(req: SipRequest): string {
  const via = req.topVia!;
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const branch = via.branch;
  if (branch?.startsWith(BRANCH_MAGIC_COOKIE)) return `${branch}|${via.sentBy}|${method}`;
  // RFC 2543 peers: no usable branch, match on the request's identifying fields.
  let fromTag = '';
  try {
    fromTag = req.from.tag ?? '';
  } catch {
    // parser guarantees From; keep an empty tag if it has none
  }
  return `2543|${req.callId}|${fromTag}|${req.cseq.seq}|${via.sentBy}|${branch ?? ''}|${method}`;
}

/** Key of the client transaction a response belongs to. */
export function clientKey(msg: SipMessage): string | undefined {
  const branch = msg.topVia?.branch;
  if (!branch) return undefined;
  return `${branch}|${msg.cseq.method}`;
}
