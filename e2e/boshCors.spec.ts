/**
 * A web XMPP client served by another site (Converse.js on the organisation's portal, say)
 * talks BOSH to Parley across origins: Chromium lets a page on an allowed origin
 * (PARLEY_XMPP_BOSH_ORIGINS) sign in and chat, and blocks a page on any other origin.
 */
import http from 'node:http';
import { expect, test, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { freeTcpPort } from '../server-common/test-support/ports.js';

const PASSWORD = 'portal-chat-pass';
let gateway: GatewayProcess;
let portal: http.Server;
let elsewhere: http.Server;
let portalPort = 0;
let elsewherePort = 0;

function site(): http.Server {
  return http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Portal</title><h1>University portal</h1>');
  });
}

test.beforeAll(async () => {
  portalPort = await freeTcpPort();
  elsewherePort = await freeTcpPort();
  gateway = new GatewayProcess({ env: { PARLEY_XMPP_BOSH_ORIGINS: `http://localhost:${portalPort}` } });
  gateway.addUser('alice', PASSWORD);
  await gateway.start();
  portal = site();
  elsewhere = site();
  await new Promise<void>((r) => portal.listen(portalPort, '127.0.0.1', r));
  await new Promise<void>((r) => elsewhere.listen(elsewherePort, '127.0.0.1', r));
});

test.afterAll(async () => {
  portal?.close();
  elsewhere?.close();
  await gateway?.stop();
});

/** In the page: creates a BOSH session, signs in with SASL PLAIN, binds, pings; returns the JID or the error. */
function boshLogin(page: Page, endpoint: string): Promise<{ jid?: string; pong?: boolean; error?: string }> {
  return page.evaluate(
    async ({ endpoint, password }) => {
      const NS = 'http://jabber.org/protocol/httpbind';
      let rid = 4000 + Math.floor(Math.random() * 1000);
      let sid = '';
      const post = async (inner: string, attrs = ''): Promise<string> => {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'text/xml; charset=utf-8' },
          body: `<body rid='${rid++}' xmlns='${NS}'${sid ? ` sid='${sid}'` : ''} ${attrs}>${inner}</body>`,
        });
        return res.text();
      };
      try {
        const created = await post('', `to='localhost' wait='5' hold='1' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'`);
        sid = /sid=['"]([^'"]+)/.exec(created)![1];
        const auth = await post(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${btoa(`\u0000alice\u0000${password}`)}</auth>`);
        if (!/<success/.test(auth)) return { error: auth };
        const features = await post('', `to='localhost' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`);
        if (!/<bind/.test(features)) return { error: features };
        const bound = await post(`<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>portal</resource></bind></iq>`);
        const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
        const pong = await post(`<iq type='get' id='p1' to='localhost' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>`);
        return { jid, pong: /type=['"]result['"]/.test(pong) };
      } catch (err) {
        return { error: String(err) };
      }
    },
    { endpoint, password: PASSWORD },
  );
}

test('a page on an allowed origin signs in over BOSH; a page elsewhere is refused by the browser', async ({ page }) => {
  const endpoint = `http://localhost:${gateway.httpPort}/http-bind`;
  await page.goto(`http://localhost:${portalPort}/`);
  const allowed = await boshLogin(page, endpoint);
  expect(allowed).toEqual({ jid: 'alice@localhost/portal', pong: true });

  await page.goto(`http://127.0.0.1:${elsewherePort}/`);
  const refused = await boshLogin(page, endpoint);
  expect(refused.jid).toBeUndefined();
  expect(refused.error).toMatch(/Failed to fetch/);
});
