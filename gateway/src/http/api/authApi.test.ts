/** Sign-in, sessions and the session-bound SIP credential, over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, SipClient } from '../../../test-support/sipClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_LOGIN_MAX_FAILURES: '3' });
  await gw.addUser('alice', TEST_PASSWORD, 'Alice A.');
  await gw.addUser('bob');
  await gw.addUser('mallory-target');
});

afterAll(async () => {
  await gw.stop();
});

async function login(username: string, password: string, headers: Record<string, string> = {}) {
  return fetch(`${gw.url}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ username, password }),
  });
}

const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0];

describe('sign-in API', () => {
  it('signs in with an httpOnly session cookie and returns the profile with a SIP credential', async () => {
    const res = await login('Alice', TEST_PASSWORD);
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^parley_session=[\w-]{40,};/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const body = await res.json();
    expect(body.user).toEqual({ username: 'alice', displayName: 'Alice A.', domain: 'localhost' });
    expect(body.sip.uri).toBe('sip:alice@localhost');
    expect(body.sip.password).not.toBe(TEST_PASSWORD);

    const me = await fetch(`${gw.url}/api/me`, { headers: { cookie: cookieOf(res) } });
    expect(me.status).toBe(200);
    expect((await me.json()).user.username).toBe('alice');
  });

  it('says so when the password is wrong, in JSON', async () => {
    const res = await login('bob', 'nope-nope');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'invalid_credentials', message: 'Wrong username or password' } });
    const unknown = await login('nobody', 'nope-nope');
    expect(unknown.status).toBe(401);
  });

  it('slows down password guessing with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await login('mallory-target', `guess-${i}`)).status).toBe(401);
    const blocked = await login('mallory-target', TEST_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await blocked.json()).error.message).toMatch(/Too many failed sign-ins/);
  });

  it('refuses a sign-in posted from another site, and bodies that are not JSON', async () => {
    expect((await login('alice', TEST_PASSWORD, { Origin: 'https://evil.example' })).status).toBe(403);
    const form = await fetch(`${gw.url}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=alice' });
    expect(form.status).toBe(415);
  });

  it('answers unknown endpoints and missing sessions with JSON errors', async () => {
    const missing = await fetch(`${gw.url}/api/nope`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('not_found');
    const anon = await fetch(`${gw.url}/api/users`);
    expect(anon.status).toBe(401);
    expect((await anon.json()).error.message).toBe('Sign in first');
    const wrongMethod = await fetch(`${gw.url}/api/me`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
  });

  it('lists the other users with whether they can be reached now', async () => {
    const cookie = cookieOf(await login('bob', TEST_PASSWORD));
    const list = await (await fetch(`${gw.url}/api/users`, { headers: { cookie } })).json();
    expect(list.users.map((u: { username: string }) => u.username)).toEqual(['alice', 'mallory-target']);
    const search = await (await fetch(`${gw.url}/api/users?q=ali`, { headers: { cookie } })).json();
    expect(search.users).toEqual([{ username: 'alice', displayName: 'Alice A.', reachable: false }]);
  });

  it('the SIP credential of a session works for SIP digest and dies with the session', async () => {
    const res = await login('bob', TEST_PASSWORD);
    const cookie = cookieOf(res);
    const { sip } = await res.json();
    const c = await SipClient.open(gw.sipPort, 'bob');
    expect((await register(c, sip.password)).status).toBe(200);
    expect((await fetch(`${gw.url}/api/logout`, { method: 'POST', headers: { cookie } })).status).toBe(200);
    expect((await register(c, sip.password)).status).toBe(403);
    expect((await fetch(`${gw.url}/api/me`, { headers: { cookie } })).status).toBe(401);
    c.close();
  });

  it('serves health and Prometheus metrics', async () => {
    const health = await (await fetch(`${gw.url}/healthz`)).json();
    expect(health.status).toBe('ok');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^# TYPE parley_sip_bindings gauge$/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+$/m);
  });
});
