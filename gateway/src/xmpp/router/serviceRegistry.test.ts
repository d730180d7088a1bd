/**
 * XMPP services plug in through the service registry: what service discovery advertises is
 * what the server answers, for the server, for your own account and for someone else's.
 */
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, xml, type TestXmpp } from '../../../test-support/xmppClient.js';
import { XmppServiceRegistry } from './serviceRegistry.js';
import type { XmppContext } from './xmppContext.js';

let gw: TestGateway;
let alice: TestXmpp;

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.addUser('alice');
  await gw.addUser('bob');
  alice = await connect(gw, 'alice', TEST_PASSWORD);
});

afterAll(async () => {
  await alice?.stop();
  await gw?.stop();
});

const features = (info: Element) =>
  info
    .getChild('query', NS.discoInfo)!
    .getChildren('feature')
    .map((f) => f.attrs.var as string)
    .sort();

const discoInfo = (to: string, node?: string) => alice.iq(xml('iq', { type: 'get', to }, xml('query', { xmlns: NS.discoInfo, node })));

/** Answers of a query the features say the server supports (an iq result, not an error). */
async function answers(to: string, payload: Element): Promise<boolean> {
  return alice.iq(xml('iq', { type: 'get', to }, payload)).then(
    (result) => result.attrs.type === 'result',
    () => false,
  );
}

describe('XMPP service registry', () => {
  it('advertises the features the registered services handle, and answers each of their queries', async () => {
    const server = features(await discoInfo('localhost'));
    expect(server).toEqual(
      [NS.discoInfo, NS.discoItems, NS.ping, NS.vcard, NS.carbons, NS.mam, NS.sid, NS.offline, NS.version, NS.time].sort(),
    );
    expect(server).toEqual(gw.gateway.xmpp.services.features('server').sort());
    expect(await answers('localhost', xml('ping', { xmlns: NS.ping }))).toBe(true);
    expect(await answers('localhost', xml('query', { xmlns: NS.version }))).toBe(true);
    expect(await answers('localhost', xml('time', { xmlns: NS.time }))).toBe(true);
    expect(await answers('localhost', xml('vCard', { xmlns: NS.vcard }))).toBe(true);
    expect(await answers('localhost', xml('query', { xmlns: NS.mam }))).toBe(true);
    // An entity-capabilities node is echoed (XEP-0115).
    const withNode = await discoInfo('localhost', 'https://parley.example#abc');
    expect(withNode.getChild('query', NS.discoInfo)!.attrs.node).toBe('https://parley.example#abc');
  });

  it('lists the component services in disco#items', async () => {
    const items = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS.discoItems })));
    const jids = items.getChild('query', NS.discoItems)!.getChildren('item').map((i) => i.attrs.jid as string);
    expect(jids.sort()).toEqual(['conference.localhost', 'upload.localhost']);
  });

  it('describes your own account with its archive, and someone else’s with only what the server answers for them', async () => {
    expect(features(await discoInfo('alice@localhost'))).toEqual([NS.discoInfo, NS.mam, NS.vcard].sort());
    expect(features(await discoInfo('bob@localhost'))).toEqual([NS.discoInfo, NS.vcard].sort());
    expect(await answers('bob@localhost', xml('vCard', { xmlns: NS.vcard }))).toBe(true);
    // Bob's archive is not Alice's to read.
    expect(await answers('bob@localhost', xml('query', { xmlns: NS.mam }))).toBe(false);
    const nobody = await discoInfo('nobody@localhost').catch((err: { condition?: string }) => err);
    expect((nobody as { condition?: string }).condition).toBe('service-unavailable');
  });

  it('refuses a namespace no service registered with service-unavailable', async () => {
    const err = await alice
      .iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'urn:example:unknown' })))
      .catch((e: { condition?: string }) => e);
    expect((err as { condition?: string }).condition).toBe('service-unavailable');
  });

  it('does not let two services claim the same namespace or domain', () => {
    const registry = new XmppServiceRegistry({ domain: 'localhost' } as XmppContext);
    registry.onIq('self', 'urn:example:a', () => {});
    expect(() => registry.onIq('self', 'urn:example:a', () => {})).toThrow(/Two XMPP services/);
    registry.addComponent({ domain: 'x.localhost', name: 'X' });
    expect(() => registry.addComponent({ domain: 'x.localhost', name: 'Y' })).toThrow(/Two XMPP services serve/);
  });
});
