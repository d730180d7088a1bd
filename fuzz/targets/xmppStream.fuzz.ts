/**
 * Fuzz target: XMPP over TCP (RFC 6120) — the streaming parser (UTF-8, restricted XML, sizes),
 * stream negotiation and SASL for a stranger, and, on a signed-in stream, every stanza a user
 * may send (roster, presence, messages, group chat, archive, vCards, uploads). The first byte
 * picks which: even = from the first byte of a new connection, odd = as alice, signed in.
 * A handler that throws makes the server send internal-server-error: that is a bug.
 */
import { assertNoInternalError, closeXmppGateway, CollectingTransport, settle, signedInSession, xmppGateway } from '../support/xmppHarness.js';

let signedIn: Awaited<ReturnType<typeof signedInSession>>;

export async function close(): Promise<void> {
  signedIn = undefined;
  await closeXmppGateway();
}

export async function fuzz(data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const gw = await xmppGateway();
  const input = data.subarray(1);
  if (data[0] % 2 === 0) {
    const transport = new CollectingTransport();
    const session = gw.gateway.xmpp.createSession(transport);
    transport.write(input);
    await settle();
    assertNoInternalError(transport.sent);
    session.close();
    return;
  }
  if (!signedIn || signedIn.transport.closed) signedIn = await signedInSession(gw);
  if (!signedIn) throw new Error('could not sign in the fuzzing session');
  const from = signedIn.transport.sent.length;
  signedIn.transport.write(input);
  await settle();
  assertNoInternalError(signedIn.transport.sent.slice(from));
}
