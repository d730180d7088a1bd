import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../gateway/test-support/testGateway.js';
import { api, signIn, SfuRequestError, SfuTestClient } from '../../test-support/sfuTestClient.js';
import { issueJoinToken, joinTokenKey } from '../auth/joinToken.js';

let gw: TestGateway;
let alice: string;
let bob: string;
let carol: string;
const clients: SfuTestClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_SFU_EMPTY_GRACE_SECONDS: '0', PARLEY_SFU_MAX_MESSAGE_BYTES: '8192' });
  for (const [name, display] of [
    ['alice', 'Alice Liddell'],
    ['bob', 'Bob Builder'],
    ['carol', 'Carol Danvers'],
  ]) {
    await gw.addUser(name, TEST_PASSWORD, display);
  }
  alice = await signIn(gw.url, 'alice', TEST_PASSWORD);
  bob = await signIn(gw.url, 'bob', TEST_PASSWORD);
  carol = await signIn(gw.url, 'carol', TEST_PASSWORD);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw?.stop();
});

async function join(conference: string, auth: { cookie?: string; guestToken?: string; displayName?: string }) {
  const client = await SfuTestClient.joinThroughGateway(gw.url, conference, auth);
  clients.push(client);
  return client;
}

async function newMeeting(cookie: string): Promise<string> {
  const { status, body } = await api(gw.url, 'POST', '/api/conferences', { cookie, body: {} });
  expect(status).toBe(201);
  expect(body.url).toBe(`${gw.gateway.http.publicUrl}/meet/${String(body.name)}`);
  return body.name as string;
}

describe('conference signalling', () => {
  it('lets two signed-in people meet: each receives what the other sends', async () => {
    const name = await newMeeting(alice);
    const a = await join(name, { cookie: alice });
    expect(a.joined!.you).toMatchObject({ displayName: 'Alice Liddell', role: 'owner' });
    await a.setUpMedia();
    await a.produce('mic');
    await a.produce('camera');

    const b = await join(name, { cookie: bob });
    expect(b.joined!.you.role).toBe('member');
    expect(b.joined!.participants.map((p) => p.displayName)).toEqual(['Alice Liddell']);
    expect(b.joined!.participants[0].producers.map((p) => p.source).sort()).toEqual(['camera', 'mic']);
    const joined = await a.waitFor('participantJoined');
    expect(joined.displayName).toBe('Bob Builder');

    await b.setUpMedia();
    await b.waitFor('newConsumer', (o) => o.source === 'camera');
    await b.waitFor('newConsumer', (o) => o.source === 'mic');
    for (const offer of b.offers()) {
      expect(offer.participantId).toBe(a.joined!.you.id);
      const consumer = await b.accept(offer);
      expect(consumer.kind).toBe(offer.kind);
    }
    // And the other way round: Bob starts sending after Alice is set up.
    await b.produce('mic');
    const offer = await a.waitFor('newConsumer', (o) => o.participantId === b.joined!.you.id);
    expect(offer.source).toBe('mic');
    await a.accept(offer);

    const room = gw.gateway.sfu!.rooms.get(name)!;
    const bobInRoom = room.participant(b.joined!.you.id)!;
    expect([...bobInRoom.consumers.values()].every((c) => !c.consumer.paused)).toBe(true);
  });

  it('sends each receiver the simulcast layer that fits the tile it shows a camera in', async () => {
    const name = await newMeeting(alice);
    const a = await join(name, { cookie: alice });
    await a.setUpMedia();
    await a.request('produce', {
      kind: 'video',
      source: 'camera',
      height: 720,
      // Built by the fake device: three simulcast encodings.
      rtpParameters: await (async () => {
        let captured: unknown;
        a.sendTransport!.removeAllListeners('produce');
        a.sendTransport!.on('produce', (p, ok) => {
          captured = p.rtpParameters;
          ok({ id: 'local-only' });
        });
        await a.produce('camera');
        return captured as never;
      })(),
    });
    const b = await join(name, { cookie: bob });
    await b.setUpMedia();
    const offer = await b.waitFor('newConsumer', (o) => o.source === 'camera');
    await b.accept(offer);
    const consumer = () =>
      gw.gateway.sfu!.rooms.get(name)!.participant(b.joined!.you.id)!.consumers.get(offer.consumerId)!.consumer;
    expect(consumer().type).toBe('simulcast');

    await b.request('setConsumerView', { consumerId: offer.consumerId, width: 160, height: 90, visible: true });
    expect(consumer().preferredLayers?.spatialLayer).toBe(0);
    await b.request('setConsumerView', { consumerId: offer.consumerId, width: 1280, height: 720, visible: true });
    expect(consumer().preferredLayers?.spatialLayer).toBe(2);
    await b.request('setConsumerView', { consumerId: offer.consumerId, width: 0, height: 0, visible: false });
    expect(consumer().paused).toBe(true);
    await b.request('setConsumerView', { consumerId: offer.consumerId, width: 320, height: 240, visible: true });
    expect(consumer().paused).toBe(false);
    expect(consumer().preferredLayers?.spatialLayer).toBe(1);
  });

  it('tells everyone about mutes, raised hands and people leaving', async () => {
    const name = await newMeeting(alice);
    const a = await join(name, { cookie: alice });
    const b = await join(name, { cookie: bob });
    await a.setUpMedia();
    const mic = await a.produce('mic');
    await a.request('pauseProducer', { producerId: mic.id });
    expect(await b.waitFor('producerState')).toEqual({ participantId: a.joined!.you.id, producerId: mic.id, paused: true });

    await b.request('raiseHand', { raised: true });
    expect(await a.waitFor('handRaised')).toEqual({ participantId: b.joined!.you.id, raised: true });

    await b.request('leave', {});
    expect(await a.waitFor('participantLeft')).toEqual({ participantId: b.joined!.you.id });
    expect((await b.closed).code).toBe(1000);
  });

  it('refuses a connection without a valid join token for this node', async () => {
    const c = await SfuTestClient.connect(`${gw.url.replace('http', 'ws')}/sfu`);
    clients.push(c);
    const err = (await c.request('join', { token: 'not-a-token' }).catch((e: unknown) => e)) as SfuRequestError;
    expect(err.code).toBe('unauthorized');
    expect(err.message).toMatch(/not valid.*open the meeting link again/);

    // Signed with another key (a forged token).
    const forged = await issueJoinToken(
      { conference: 'x-room', nodeId: gw.gateway.sfu!.id, userId: 'mallory@localhost', displayName: 'M', role: 'owner' },
      joinTokenKey(Buffer.alloc(32, 7)),
      60,
    );
    expect(((await c.request('join', { token: forged }).catch((e: unknown) => e)) as SfuRequestError).code).toBe(
      'unauthorized',
    );
    // Before joining, nothing else is allowed.
    const notJoined = (await c.request('raiseHand', { raised: true }).catch((e: unknown) => e)) as SfuRequestError;
    expect(notJoined.code).toBe('not-joined');
  });

  it('refuses a join token issued for another node', async () => {
    const { body } = await api(gw.url, 'POST', '/api/conferences/some-room/join', { cookie: alice, body: {} });
    expect(body.node).toBe(gw.gateway.sfu!.id);
    const key = joinTokenKey(secretOf(gw));
    const elsewhere = await issueJoinToken(
      { conference: 'some-room', nodeId: 'another-node', userId: 'alice@localhost', displayName: 'A', role: 'owner' },
      key,
      60,
    );
    const c = await SfuTestClient.connect(`${gw.url.replace('http', 'ws')}/sfu`);
    clients.push(c);
    expect(((await c.request('join', { token: elsewhere }).catch((e: unknown) => e)) as SfuRequestError).code).toBe(
      'wrong-node',
    );
  });

  it('lets nobody touch the streams of another participant or another meeting', async () => {
    const one = await newMeeting(alice);
    const a = await join(one, { cookie: alice });
    await a.setUpMedia();
    const mic = await a.produce('mic');
    const b = await join(one, { cookie: bob });
    await b.setUpMedia();
    const offer = await b.waitFor('newConsumer');

    const other = await newMeeting(carol);
    const c = await join(other, { cookie: carol });
    await c.setUpMedia();
    for (const attempt of [
      () => c.request('resumeConsumer', { consumerId: offer.consumerId }),
      () => c.request('setConsumerView', { consumerId: offer.consumerId, width: 1, height: 1, visible: true }),
      () => c.request('pauseProducer', { producerId: mic.id }),
      () => c.request('closeProducer', { producerId: mic.id }),
      () => b.request('pauseProducer', { producerId: mic.id }),
      () => b.request('connectTransport', { transportId: a.sendTransport!.id, dtlsParameters: {} as never }),
    ]) {
      const err = (await attempt().catch((e: unknown) => e)) as SfuRequestError;
      expect(err).toBeInstanceOf(SfuRequestError);
      expect(err.code).toBe('not-found');
    }
    // Carol, alone in her meeting, was offered nothing.
    expect(c.offers()).toEqual([]);
  });

  it('answers malformed requests with errors and closes a connection that floods it with a huge message', async () => {
    const name = await newMeeting(alice);
    const a = await join(name, { cookie: alice });
    expect((await a.raw('{"id": 5, "method": "produce", "data": {"kind": "smell"}}', 5)).ok).toBe(false);
    const unknown = await a.raw('{"id": 6, "method": "teleport", "data": {}}', 6);
    expect(unknown).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    a.ws.send('this is not json');
    const wrongKind = (await a.request('produce', { kind: 'audio', source: 'camera', rtpParameters: {} as never }).catch(
      (e: unknown) => e,
    )) as SfuRequestError;
    expect(wrongKind.code).toBe('bad-request');
    // Still connected after bad input.
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    a.ws.send(JSON.stringify({ id: 9, method: 'raiseHand', data: { pad: 'x'.repeat(10_000) } }));
    expect((await a.closed).code).toBe(1009);
  });

  it('replaces a broken session when the same client rejoins with its resume key', async () => {
    const name = await newMeeting(alice);
    const a = await join(name, { cookie: alice });
    const b = await join(name, { cookie: bob });
    const first = b.joined!;
    // Bob's network changes: a new connection, the old one not yet noticed as dead.
    const { body } = await api(gw.url, 'POST', `/api/conferences/${name}/join`, { cookie: bob, body: {} });
    const b2 = await SfuTestClient.connect(`${gw.url.replace('http', 'ws')}/sfu`);
    clients.push(b2);
    // A wrong key does not remove anyone.
    const b3 = await SfuTestClient.connect(`${gw.url.replace('http', 'ws')}/sfu`);
    clients.push(b3);
    await b3.join(body.token as string, { participantId: first.you.id, key: 'guessed' });
    expect(gw.gateway.sfu!.rooms.get(name)!.participant(first.you.id)).toBeDefined();
    await b3.request('leave', {});

    await b2.join(body.token as string, { participantId: first.you.id, key: first.resumeKey });
    expect(await a.waitFor('participantLeft', (x) => x.participantId === first.you.id)).toBeDefined();
    expect(b2.joined!.participants.map((p) => p.displayName)).toEqual(['Alice Liddell']);
    expect(gw.gateway.sfu!.rooms.get(name)!.participantCount).toBe(2);
  });

  it('releases the conference pin once the meeting is empty', async () => {
    const name = await newMeeting(alice);
    const a = await join(name, { cookie: alice });
    expect((await gw.gateway.registry.lookup(name))?.id).toBe(gw.gateway.sfu!.id);
    a.close();
    await waitUntil(async () => (await gw.gateway.registry.lookup(name)) === null);
    expect(gw.gateway.sfu!.rooms.get(name)).toBeUndefined();
  });
});

describe('guest links', () => {
  it('admits a guest with the owner’s link and a typed name, and nobody without one', async () => {
    const name = await newMeeting(alice);
    const notOwner = await api(gw.url, 'POST', `/api/conferences/${name}/guest-links`, { cookie: bob, body: {} });
    expect(notOwner.status).toBe(403);
    const link = await api(gw.url, 'POST', `/api/conferences/${name}/guest-links`, { cookie: alice, body: {} });
    expect(link.status).toBe(201);
    const guestToken = link.body.token as string;
    expect(link.body.url).toContain(`/meet/${name}?guest=`);

    const info = await fetch(`${gw.url}/api/conferences/${name}?guest=${encodeURIComponent(guestToken)}`);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ title: 'Alice Liddell’s meeting', you: { role: 'guest' } });

    const noName = await api(gw.url, 'POST', `/api/conferences/${name}/join`, { body: { guestToken } });
    expect(noName).toMatchObject({ status: 400, body: { error: { code: 'name_required' } } });
    const stranger = await api(gw.url, 'POST', `/api/conferences/${name}/join`, { body: { displayName: 'Eve' } });
    expect(stranger.status).toBe(401);
    const otherMeeting = await newMeeting(alice);
    const wrongRoom = await api(gw.url, 'POST', `/api/conferences/${otherMeeting}/join`, {
      body: { guestToken, displayName: 'Eve' },
    });
    expect(wrongRoom).toMatchObject({ status: 403, body: { error: { code: 'invalid_guest_link' } } });
    const tampered = await api(gw.url, 'POST', `/api/conferences/${name}/join`, {
      body: { guestToken: guestToken.slice(0, -3) + 'AAA', displayName: 'Eve' },
    });
    expect(tampered.status).toBe(403);

    const a = await join(name, { cookie: alice });
    const guest = await join(name, { guestToken, displayName: 'Gus the Guest' });
    expect(guest.joined!.you).toMatchObject({ displayName: 'Gus the Guest', role: 'guest' });
    expect((await a.waitFor('participantJoined')).role).toBe('guest');
  });
});

describe('conference limits', () => {
  it('answers 503 with advice when the only node is at its conference limit', async () => {
    const small = await startTestGateway({ PARLEY_SFU_MAX_CONFERENCES: '1' });
    try {
      await small.addUser('dave', TEST_PASSWORD);
      const dave = await signIn(small.url, 'dave', TEST_PASSWORD);
      expect((await api(small.url, 'POST', '/api/conferences/first-one/join', { cookie: dave, body: {} })).status).toBe(200);
      const second = await api(small.url, 'POST', '/api/conferences/second-one/join', { cookie: dave, body: {} });
      expect(second.status).toBe(503);
      expect((second.body.error as { message: string }).message).toMatch(/at their limit.*Try again/);
      // The pinned conference still admits people.
      expect((await api(small.url, 'POST', '/api/conferences/first-one/join', { cookie: dave, body: {} })).status).toBe(200);
    } finally {
      await small.stop();
    }
  });

  it('grows a big room onto a second worker and pipes every stream across', async () => {
    const big = await startTestGateway({ PARLEY_SFU_WORKERS: '2', PARLEY_SFU_CONSUMERS_PER_WORKER: '2' });
    const local: SfuTestClient[] = [];
    try {
      for (const n of ['p1', 'p2', 'p3']) await big.addUser(n, TEST_PASSWORD);
      const joinBig = async (user: string) => {
        const c = await SfuTestClient.joinThroughGateway(big.url, 'big-room', {
          cookie: await signIn(big.url, user, TEST_PASSWORD),
        });
        local.push(c);
        await c.setUpMedia();
        await c.produce('mic');
        await c.produce('camera');
        return c;
      };
      const p1 = await joinBig('p1');
      const p2 = await joinBig('p2');
      await p2.waitFor('newConsumer', (o) => o.source === 'camera');
      await p1.waitFor('newConsumer', (o) => o.source === 'camera');
      const p3 = await joinBig('p3');
      await p3.waitFor('newConsumer', (o) => o.participantId === p1.joined!.you.id && o.source === 'camera');
      await p3.waitFor('newConsumer', (o) => o.participantId === p2.joined!.you.id && o.source === 'camera');
      await p1.waitFor('newConsumer', (o) => o.participantId === p3.joined!.you.id && o.source === 'camera');
      const room = big.gateway.sfu!.rooms.get('big-room')!;
      const workerOf = (c: SfuTestClient) => room.participant(c.joined!.you.id)!.router.worker.index;
      expect(workerOf(p1)).toBe(workerOf(p2));
      expect(workerOf(p3)).not.toBe(workerOf(p1));
    } finally {
      for (const c of local) c.close();
      await big.stop();
    }
  });
});

function secretOf(t: TestGateway): Buffer {
  // The embedded node signs with the gateway's own secret (data dir) when PARLEY_SFU_SECRET is unset.
  return Buffer.from(fs.readFileSync(`${t.dataDir}/secret.key`, 'utf8').trim(), 'base64');
}

async function waitUntil(condition: () => Promise<boolean>, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}
