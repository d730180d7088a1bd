/**
 * XMPP test clients: @xmpp/client (xmpp.js, an independent implementation) over TCP or
 * WebSocket, with an inbox that tests can wait on.
 */
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from 'ltx';
import WebSocket from 'ws';

// Test gateways use a self-signed STARTTLS certificate, generated on first start.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
// xmpp.js expects the browser's WebSocket.
(globalThis as unknown as { WebSocket: unknown }).WebSocket ??= WebSocket;

export { xml };

export interface TestXmpp {
  xmpp: Client;
  jid: string;
  inbox: Element[];
  waitFor(pred: (s: Element) => boolean, timeoutMs?: number, what?: string): Promise<Element>;
  /** Sends an iq and resolves with the result (rejects on error). */
  iq(stanza: Element): Promise<Element>;
  stop(): Promise<void>;
}

export interface ConnectOptions {
  transport?: 'tcp' | 'ws';
  resource?: string;
  password?: string;
  /** Send initial presence after connecting (default true). */
  presence?: boolean;
}

export async function connect(ports: { xmppPort: number; httpPort: number }, username: string, password: string, o: ConnectOptions = {}): Promise<TestXmpp> {
  const service = o.transport === 'ws' ? `ws://127.0.0.1:${ports.httpPort}/xmpp` : `xmpp://127.0.0.1:${ports.xmppPort}`;
  const xmpp = client({ service, domain: 'localhost', username, password: o.password ?? password, resource: o.resource });
  xmpp.on('error', () => {});
  const inbox: Element[] = [];
  const waiters: Array<{ pred: (s: Element) => boolean; resolve: (s: Element) => void }> = [];
  xmpp.on('stanza', (s: Element) => {
    const w = waiters.find((x) => x.pred(s));
    if (w) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(s);
    } else inbox.push(s);
  });
  const address = await xmpp.start().catch(async (err: unknown) => {
    // Otherwise xmpp.js keeps reconnecting in the background (and reports what fails there as unhandled).
    await xmpp.stop().catch(() => undefined);
    throw err;
  });
  if (o.presence !== false) await xmpp.send(xml('presence'));
  return {
    xmpp,
    jid: address.toString(),
    inbox,
    waitFor(pred, timeoutMs = 5000, what = 'a stanza') {
      const i = inbox.findIndex(pred);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (s: Element) => {
            clearTimeout(t);
            resolve(s);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`${username}: timed out waiting for ${what}; inbox: ${inbox.map((s) => s.toString().slice(0, 120)).join(' | ')}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async iq(stanza) {
      return (xmpp as unknown as { iqCaller: { request(e: Element, timeout?: number): Promise<Element> } }).iqCaller.request(stanza, 5000);
    },
    async stop() {
      try {
        await xmpp.stop();
      } catch {
        // already gone
      }
    },
  };
}

export const isMessageFrom = (from: string, body?: string) => (s: Element) =>
  s.name === 'message' && (s.attrs.from ?? '').startsWith(from) && (body === undefined || s.getChildText('body') === body);

export const isPresenceFrom = (from: string, type?: string) => (s: Element) =>
  s.name === 'presence' && (s.attrs.from ?? '').startsWith(from) && (s.attrs.type ?? undefined) === type;

/** Makes two users mutual contacts (subscription both). */
export async function befriend(a: TestXmpp, aBare: string, b: TestXmpp, bBare: string): Promise<void> {
  await a.xmpp.send(xml('presence', { to: bBare, type: 'subscribe' }));
  await b.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
  await b.xmpp.send(xml('presence', { to: aBare, type: 'subscribed' }));
  await b.xmpp.send(xml('presence', { to: aBare, type: 'subscribe' }));
  await a.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribe');
  await a.xmpp.send(xml('presence', { to: bBare, type: 'subscribed' }));
  await a.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribed');
  await b.waitFor((s) => s.name === 'presence' && s.attrs.type === 'subscribed');
}

/** Cuts a client's connection without closing the stream (a dead network, a killed app). */
export function cutConnection(c: TestXmpp): void {
  const socket = (c.xmpp as unknown as { socket: { socket?: { destroy(): void }; destroy?: () => void } }).socket;
  if (socket.socket) socket.socket.destroy();
  else socket.destroy?.();
}

/** A room owner's configuration form (XEP-0045 §10.2), fields by their muc#roomconfig_ name. */
export function roomConfig(room: string, fields: Record<string, string>): Element {
  return xml(
    'iq',
    { type: 'set', to: room },
    xml(
      'query',
      { xmlns: 'http://jabber.org/protocol/muc#owner' },
      xml(
        'x',
        { xmlns: 'jabber:x:data', type: 'submit' },
        xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
        ...Object.entries(fields).map(([k, v]) => xml('field', { var: `muc#roomconfig_${k}` }, xml('value', {}, v))),
      ),
    ),
  );
}
