/**
 * What the XMPP fuzz targets share: one in-process gateway, connections that collect what the
 * server sends (nothing touches a socket), and a client session signed in with SASL PLAIN (a
 * loopback connection may use it) so that fuzz input also reaches what only users can do.
 */
import { Element } from 'ltx';
import type { StreamError } from '../../gateway/src/xmpp/core/xml.js';
import type { C2SSession } from '../../gateway/src/xmpp/session/c2sSession.js';
import type { StreamReceiver, StreamTransport } from '../../gateway/src/xmpp/transport/streamTransport.js';
import { XmlStreamParser } from '../../gateway/src/xmpp/transport/xmlStreamParser.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../gateway/test-support/testGateway.js';

let gateway: TestGateway | undefined;

export async function xmppGateway(): Promise<TestGateway> {
  if (!gateway) {
    gateway = await startTestGateway({ PARLEY_LOG_LEVEL: 'silent', PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '0' });
    await gateway.addUser('alice');
    await gateway.addUser('bob');
  }
  return gateway;
}

export async function closeXmppGateway(): Promise<void> {
  await gateway?.stop();
  gateway = undefined;
}

/** What a fuzz run must never see the server send: it means a handler threw. */
export function assertNoInternalError(sent: string[]): void {
  const bad = sent.find((s) => s.includes('internal-server-error'));
  if (bad) throw new Error(`the server failed while handling the input: ${bad.slice(0, 300)}`);
}

/** A TCP-like connection from loopback: bytes in through the real stream parser, elements out into `sent`. */
export class CollectingTransport implements StreamTransport {
  readonly kind = 'tcp' as const;
  readonly remoteAddress = '127.0.0.1';
  readonly secure = false;
  readonly canStartTls = false;
  readonly sent: string[] = [];
  closed = false;
  #receiver!: StreamReceiver;
  #parser = this.#newParser();

  setReceiver(receiver: StreamReceiver): void {
    this.#receiver = receiver;
  }

  openStream(_attrs: unknown, features: Element): void {
    this.sent.push(features.toString());
  }

  send(e: Element): void {
    this.sent.push(e.toString());
  }

  closeStream(error?: Element): void {
    if (error) this.sent.push(error.toString());
    this.closed = true;
  }

  restartStream(): void {
    this.#parser = this.#newParser();
  }

  /** Bytes from the client. */
  write(data: Uint8Array): void {
    if (!this.closed) this.#parser.writeBytes(data);
  }

  #newParser(): XmlStreamParser {
    return new XmlStreamParser(
      {
        streamStart: (attrs) => this.#receiver.onStreamOpen(attrs),
        element: (e) => this.#receiver.onElement(e),
        streamEnd: () => this.#receiver.onStreamClose(),
        error: (err: StreamError) => this.#receiver.onStreamError(err),
      },
      { maxStanzaBytes: 65536 },
    );
  }
}

const STREAM_OPEN = `<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A session of alice's, signed in and bound, on a collecting connection (undefined if that failed). */
export async function signedInSession(gw: TestGateway): Promise<{ transport: CollectingTransport; session: C2SSession } | undefined> {
  const transport = new CollectingTransport();
  const session = gw.gateway.xmpp.createSession(transport);
  transport.write(Buffer.from(STREAM_OPEN));
  const credentials = Buffer.from(`\u0000alice\u0000${TEST_PASSWORD}`).toString('base64');
  transport.write(Buffer.from(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${credentials}</auth>`));
  for (let i = 0; i < 200 && session.state === 'connected'; i++) await new Promise((r) => setTimeout(r, 1));
  if (session.state !== 'authenticated') return undefined;
  transport.write(Buffer.from(STREAM_OPEN));
  transport.write(Buffer.from(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><presence/>`));
  await settle();
  return session.isActive ? { transport, session } : undefined;
}

export { STREAM_OPEN };
