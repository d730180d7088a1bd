/**
 * JsSIP — the SIP stack the web client uses — running in Node as a second, independent UA
 * implementation, over the SIP WebSocket transport (RFC 7118) of an in-process gateway.
 */
import * as JsSIP from 'jssip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

// JsSIP expects the browser's WebSocket.
(globalThis as unknown as { WebSocket: unknown }).WebSocket = WebSocket;

let gw: TestGateway;
const uas: JsSIP.UA[] = [];

function ua(user: string, password = TEST_PASSWORD, on: TestGateway = gw): JsSIP.UA {
  const socket = new JsSIP.WebSocketInterface(`ws://127.0.0.1:${on.httpPort}/sip`);
  const u = new JsSIP.UA({ sockets: [socket], uri: `sip:${user}@localhost`, password, register: true, user_agent: 'JsSIP-test' });
  uas.push(u);
  return u;
}

function once<T>(emitter: JsSIP.UA, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    emitter.once(event as 'registered', ((e: T) => {
      clearTimeout(t);
      resolve(e);
    }) as never);
  });
}

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.addUser('alice');
  await gw.addUser('bob');
});

afterAll(async () => {
  for (const u of uas) u.stop();
  await gw.stop();
});

describe('JsSIP over WebSocket', () => {
  it('registers (digest, picking a challenge it supports) and exchanges MESSAGE and OPTIONS', async () => {
    const alice = ua('alice');
    const bob = ua('bob');
    const registered = Promise.all([once(alice, 'registered'), once(bob, 'registered')]);
    alice.start();
    bob.start();
    await registered;
    const bobBindings = await gw.gateway.locations.list('bob@localhost');
    expect(bobBindings).toHaveLength(1);
    expect(bobBindings[0].transport).toBe('ws');
    expect(bobBindings[0].contact).toMatch(/\.invalid;transport=ws$/);

    const received = once<{ request: { body: string; from: { uri: { user: string } } } }>(bob, 'newMessage');
    const sent = new Promise<void>((resolve, reject) =>
      alice.sendMessage('sip:bob@localhost', 'hello bob', {
        eventHandlers: { succeeded: () => resolve(), failed: (e) => reject(new Error(String(e.cause))) },
      }),
    );
    await sent;
    const msg = await received;
    expect(msg.request.body).toBe('hello bob');
    expect(msg.request.from.uri.user).toBe('alice');

    // sendOptions exists in JsSIP 3.13 but is missing from its typings.
    const withOptions = alice as unknown as { sendOptions(target: string, body: undefined, options: object): void };
    const options = await new Promise<number>((resolve, reject) =>
      withOptions.sendOptions('sip:bob@localhost', undefined, {
        eventHandlers: {
          succeeded: (e: { response: { status_code: number } }) => resolve(e.response.status_code),
          failed: (e: { cause: string }) => reject(new Error(e.cause)),
        },
      }),
    );
    expect(options).toBe(200);
  });

  it('unregisters, after which a MESSAGE to that user gets 480', async () => {
    const bob = uas[1];
    const gone = once(bob, 'unregistered');
    bob.unregister();
    await gone;
    expect(await gw.gateway.locations.list('bob@localhost')).toHaveLength(0);
    const status = await new Promise<number | undefined>((resolve) =>
      uas[0].sendMessage('sip:bob@localhost', 'are you there?', {
        eventHandlers: {
          succeeded: () => resolve(200),
          failed: (e: { response?: { status_code: number } }) => resolve(e.response?.status_code),
        },
      }),
    );
    expect(status).toBe(480);
  });

  it('a wrong password fails registration', async () => {
    const mallory = ua('alice', 'not-her-password');
    const failed = once<{ response?: { status_code: number } }>(mallory, 'registrationFailed');
    mallory.start();
    expect((await failed).response?.status_code).toBe(403);
  });

  it('refuses a WebSocket that does not speak the "sip" subprotocol (RFC 7118)', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.httpPort}/sip`, 'chat');
    const result = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('error', (e) => resolve(e.message));
    });
    expect(result).toMatch(/400/);
  });

  it.each(['MD5,SHA-256', 'SHA-256,MD5'])(
    'still registers when the operator offers SHA-256 too (%s): MD5 comes last on WebSocket, where JsSIP looks',
    async (algorithms) => {
      const withSha = await startTestGateway({ PARLEY_SIP_DIGEST_ALGORITHMS: algorithms });
      try {
        await withSha.addUser('carol');
        const carol = ua('carol', TEST_PASSWORD, withSha);
        const registered = once(carol, 'registered');
        carol.start();
        await registered;
        expect(await withSha.gateway.locations.list('carol@localhost')).toHaveLength(1);
        carol.stop();
      } finally {
        await withSha.stop();
      }
    },
  );
});
