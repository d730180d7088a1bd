/**
 * The /sfu endpoint of a real SFU node (mediasoup worker on loopback), driven by
 * mediasoup-client participants holding join tokens signed the way the gateway signs them.
 * Admission through the gateway is tested in gateway/src/http/api/conferencesApi.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ParticipantRole } from '../../../contracts/sfu/signalling.js';
import { SfuRequestError, SfuTestClient } from '../../../server-common/test-support/sfuTestClient.js';
import { startTestSfuNode, type TestSfuNode } from '../../test-support/testSfuNode.js';

interface Person {
  userId: string;
  displayName: string;
  role: ParticipantRole;
}

const ALICE: Person = { userId: 'alice@localhost', displayName: 'Alice Liddell', role: 'owner' };
const BOB: Person = { userId: 'bob@localhost', displayName: 'Bob Builder', role: 'member' };
const CAROL: Person = { userId: 'carol@localhost', displayName: 'Carol Danvers', role: 'owner' };

let sfu: TestSfuNode;
const clients: SfuTestClient[] = [];
let meetings = 0;

beforeAll(async () => {
  sfu = await startTestSfuNode({ PARLEY_SFU_MAX_MESSAGE_BYTES: '8192' });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await sfu?.stop();
});

const newMeeting = () => `meeting-${++meetings}`;

async function connect(node: TestSfuNode = sfu): Promise<SfuTestClient> {
  const client = await SfuTestClient.connect(node.url);
  clients.push(client);
  return client;
}

async function join(conference: string, person: Person, node: TestSfuNode = sfu): Promise<SfuTestClient> {
  const client = await connect(node);
  await client.join(await node.token({ conference, ...person }));
  return client;
}

async function failure(request: Promise<unknown>): Promise<SfuRequestError> {
  const err = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SfuRequestError);
  return err as SfuRequestError;
}

describe('conference signalling', () => {
  it('lets two people meet: each receives what the other sends', async () => {
    const name = newMeeting();
    const a = await join(name, ALICE);
    expect(a.joined!.you).toMatchObject({ displayName: 'Alice Liddell', role: 'owner' });
    await a.setUpMedia();
    await a.produce('mic');
    await a.produce('camera');

    const b = await join(name, BOB);
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

    const room = sfu.node.rooms.get(name)!;
    const bobInRoom = room.participant(b.joined!.you.id)!;
    expect([...bobInRoom.consumers.values()].every((c) => !c.consumer.paused)).toBe(true);
  });

  it('sends each receiver the simulcast layer that fits the tile it shows a camera in', async () => {
    const name = newMeeting();
    const a = await join(name, ALICE);
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
    const b = await join(name, BOB);
    await b.setUpMedia();
    const offer = await b.waitFor('newConsumer', (o) => o.source === 'camera');
    await b.accept(offer);
    const consumer = () => sfu.node.rooms.get(name)!.participant(b.joined!.you.id)!.consumers.get(offer.consumerId)!.consumer;
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
    const name = newMeeting();
    const a = await join(name, ALICE);
    const b = await join(name, BOB);
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
    const c = await connect();
    const err = await failure(c.request('join', { token: 'not-a-token' }));
    expect(err.code).toBe('unauthorized');
    expect(err.message).toMatch(/not valid.*open the meeting link again/);

    // Signed with another key (a forgery).
    expect((await failure(c.request('join', { token: await sfu.forgedToken('x-room') }))).code).toBe('unauthorized');
    // Before joining, nothing else is allowed.
    expect((await failure(c.request('raiseHand', { raised: true }))).code).toBe('not-joined');
  });

  it('refuses a join token issued for another node', async () => {
    const c = await connect();
    const elsewhere = await sfu.token({ conference: 'some-room', ...ALICE, nodeId: 'another-node' });
    expect((await failure(c.request('join', { token: elsewhere }))).code).toBe('wrong-node');
  });

  it('refuses a conference the registry has pinned to another live node', async () => {
    const name = newMeeting();
    await sfu.registry.publishNode(
      { id: 'other-node', url: 'ws://127.0.0.2/sfu', consumers: 0, producers: 0, cpu: 0, maxConferences: 10, maxConsumers: 100 },
      [],
    );
    expect(await sfu.registry.claim(name, 'other-node')).toBe('other-node');
    const c = await connect();
    const err = await failure(c.request('join', { token: await sfu.token({ conference: name, ...ALICE }) }));
    // The room's refusal (hosted elsewhere) reaches the client as the protocol's wrong-node.
    expect(err.code).toBe('wrong-node');
    expect(err.message).toMatch(/another server; join again/);
    await sfu.registry.removeNode('other-node');
  });

  it('lets nobody touch the streams of another participant or another meeting', async () => {
    const one = newMeeting();
    const a = await join(one, ALICE);
    await a.setUpMedia();
    const mic = await a.produce('mic');
    const b = await join(one, BOB);
    await b.setUpMedia();
    const offer = await b.waitFor('newConsumer');

    const c = await join(newMeeting(), CAROL);
    await c.setUpMedia();
    for (const attempt of [
      () => c.request('resumeConsumer', { consumerId: offer.consumerId }),
      () => c.request('setConsumerView', { consumerId: offer.consumerId, width: 1, height: 1, visible: true }),
      () => c.request('pauseProducer', { producerId: mic.id }),
      () => c.request('closeProducer', { producerId: mic.id }),
      () => b.request('pauseProducer', { producerId: mic.id }),
      () => b.request('connectTransport', { transportId: a.sendTransport!.id, dtlsParameters: {} as never }),
    ]) {
      expect((await failure(attempt())).code).toBe('not-found');
    }
    // Carol, alone in her meeting, was offered nothing.
    expect(c.offers()).toEqual([]);
  });

  it('answers malformed requests with errors and closes a connection that floods it with a huge message', async () => {
    const a = await join(newMeeting(), ALICE);
    expect((await a.raw('{"id": 5, "method": "produce", "data": {"kind": "smell"}}', 5)).ok).toBe(false);
    const unknown = await a.raw('{"id": 6, "method": "teleport", "data": {}}', 6);
    expect(unknown).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    a.ws.send('this is not json');
    const wrongKind = await failure(a.request('produce', { kind: 'audio', source: 'camera', rtpParameters: {} as never }));
    expect(wrongKind.code).toBe('bad-request');
    // Still connected after bad input.
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    a.ws.send(JSON.stringify({ id: 9, method: 'raiseHand', data: { pad: 'x'.repeat(10_000) } }));
    expect((await a.closed).code).toBe(1009);
  });

  it('replaces a broken session when the same client rejoins with its resume key', async () => {
    const name = newMeeting();
    const a = await join(name, ALICE);
    const b = await join(name, BOB);
    const first = b.joined!;
    // Bob's network changes: a new connection, the old one not yet noticed as dead.
    const token = await sfu.token({ conference: name, ...BOB });
    // A wrong key does not remove anyone.
    const b3 = await connect();
    await b3.join(token, { participantId: first.you.id, key: 'guessed' });
    expect(sfu.node.rooms.get(name)!.participant(first.you.id)).toBeDefined();
    await b3.request('leave', {});

    const b2 = await connect();
    await b2.join(token, { participantId: first.you.id, key: first.resumeKey });
    expect(await a.waitFor('participantLeft', (x) => x.participantId === first.you.id)).toBeDefined();
    expect(b2.joined!.participants.map((p) => p.displayName)).toEqual(['Alice Liddell']);
    expect(sfu.node.rooms.get(name)!.participantCount).toBe(2);
  });

  it('releases the conference pin once the meeting is empty', async () => {
    const name = newMeeting();
    const a = await join(name, ALICE);
    expect((await sfu.registry.lookup(name))?.id).toBe(sfu.node.id);
    a.close();
    await waitUntil(async () => (await sfu.registry.lookup(name)) === null);
    expect(sfu.node.rooms.get(name)).toBeUndefined();
  });
});

describe('conference limits', () => {
  it('refuses a participant past the meeting limit and a conference past the node limit', async () => {
    const small = await startTestSfuNode({ PARLEY_SFU_MAX_PARTICIPANTS: '2', PARLEY_SFU_MAX_CONFERENCES: '1' });
    try {
      await join('full-house', ALICE, small);
      await join('full-house', BOB, small);
      const third = await connect(small);
      const full = await failure(third.request('join', { token: await small.token({ conference: 'full-house', ...CAROL }) }));
      expect(full.code).toBe('conference-full');
      expect(full.message).toMatch(/full \(2 people\)/);

      const elsewhere = await connect(small);
      const nodeFull = await failure(elsewhere.request('join', { token: await small.token({ conference: 'second-one', ...CAROL }) }));
      expect(nodeFull.code).toBe('node-full');
    } finally {
      await small.stop();
    }
  });

  it('grows a big room onto a second worker and pipes every stream across', async () => {
    const big = await startTestSfuNode({ PARLEY_SFU_WORKERS: '2', PARLEY_SFU_CONSUMERS_PER_WORKER: '2' });
    try {
      const joinBig = async (person: Person) => {
        const c = await join('big-room', person, big);
        await c.setUpMedia();
        await c.produce('mic');
        await c.produce('camera');
        return c;
      };
      const p1 = await joinBig(ALICE);
      const p2 = await joinBig(BOB);
      await p2.waitFor('newConsumer', (o) => o.source === 'camera');
      await p1.waitFor('newConsumer', (o) => o.source === 'camera');
      const p3 = await joinBig(CAROL);
      await p3.waitFor('newConsumer', (o) => o.participantId === p1.joined!.you.id && o.source === 'camera');
      await p3.waitFor('newConsumer', (o) => o.participantId === p2.joined!.you.id && o.source === 'camera');
      await p1.waitFor('newConsumer', (o) => o.participantId === p3.joined!.you.id && o.source === 'camera');
      const room = big.node.rooms.get('big-room')!;
      const workerOf = (c: SfuTestClient) => room.participant(c.joined!.you.id)!.router.worker.index;
      expect(workerOf(p1)).toBe(workerOf(p2));
      expect(workerOf(p3)).not.toBe(workerOf(p1));
    } finally {
      await big.stop();
    }
  });
});

async function waitUntil(condition: () => Promise<boolean>, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}
