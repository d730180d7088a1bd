/**
 * The REST API answers in the shapes contracts/rest/ defines — the shapes the web client is
 * typed with. Each endpoint's real response (and error body) is parsed with its schema; a
 * field the server renames or drops fails here, not in a browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logoutResponse, profile } from '../../../../contracts/rest/auth.js';
import { callHistoryResponse } from '../../../../contracts/rest/calls.js';
import { directoryResponse } from '../../../../contracts/rest/directory.js';
import { apiErrorBody } from '../../../../contracts/rest/errors.js';
import { iceServersResponse } from '../../../../contracts/rest/ice.js';
import { api, signIn } from '../../../../server-common/test-support/restClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let gw: TestGateway;
let alice: string;

beforeAll(async () => {
  gw = await startTestGateway({
    PARLEY_ICE_SERVERS: '[{"urls": "stun:stun.example.org:3478"}]',
    PARLEY_TURN_SECRET: 'turn-secret-for-tests',
    PARLEY_TURN_URLS: 'turn:turn.example.org:3478?transport=udp',
  });
  await gw.addUser('alice', TEST_PASSWORD, 'Alice Liddell');
  await gw.addUser('bob', TEST_PASSWORD, 'Bob Builder');
  alice = await signIn(gw.url, 'alice', TEST_PASSWORD);
});

afterAll(async () => {
  await gw?.stop();
});

describe('REST contract', () => {
  it('sign-in and /api/me return the profile', async () => {
    const res = await fetch(`${gw.url}/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: TEST_PASSWORD }),
    });
    const signedIn = profile.parse(await res.json());
    expect(signedIn.xmpp.jid).toBe('alice@localhost');
    const me = profile.parse((await api(gw.url, 'GET', '/api/me', { cookie: alice })).body);
    expect(me.user).toEqual({ username: 'alice', displayName: 'Alice Liddell', domain: 'localhost' });
  });

  it('the directory, call history and ICE servers', async () => {
    const users = directoryResponse.parse((await api(gw.url, 'GET', '/api/users?q=bob', { cookie: alice })).body);
    expect(users.users).toEqual([{ username: 'bob', displayName: 'Bob Builder', reachable: false }]);
    expect(callHistoryResponse.parse((await api(gw.url, 'GET', '/api/calls', { cookie: alice })).body).calls).toEqual([]);
    const ice = iceServersResponse.parse((await api(gw.url, 'GET', '/api/ice-servers', { cookie: alice })).body);
    expect(ice.iceServers[0]).toEqual({ urls: 'stun:stun.example.org:3478' });
    expect(ice.iceServers[1]).toMatchObject({ urls: ['turn:turn.example.org:3478?transport=udp'], username: expect.stringMatching(/^\d+:alice$/) });
    expect(ice.ttlSeconds).toBe(3600);
  });

  it('errors carry a code and a message', async () => {
    const anonymous = await api(gw.url, 'GET', '/api/me');
    expect(anonymous.status).toBe(401);
    expect(apiErrorBody.parse(anonymous.body).error.code).toBe('not_signed_in');
    const bad = await api(gw.url, 'POST', '/api/login', { body: { username: '' } });
    expect(bad.status).toBe(400);
    expect(apiErrorBody.parse(bad.body).error.message).toMatch(/username/);
  });

  it('sign-out', async () => {
    const cookie = await signIn(gw.url, 'bob', TEST_PASSWORD);
    expect(logoutResponse.parse((await api(gw.url, 'POST', '/api/logout', { cookie })).body)).toEqual({ ok: true });
    expect((await api(gw.url, 'GET', '/api/me', { cookie })).status).toBe(401);
  });
});
