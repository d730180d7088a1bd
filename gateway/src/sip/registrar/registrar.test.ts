/** The registrar over real UDP and TCP sockets against an in-process gateway. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRequest, digestAuthorization, register, SipClient, uid } from '../../../test-support/sipClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let gw: TestGateway;
const clients: SipClient[] = [];

beforeAll(async () => {
  // Both digest algorithms on (the default is MD5 alone), so both answers can be checked.
  gw = await startTestGateway({ PARLEY_SIP_MIN_EXPIRES: '60', PARLEY_SIP_MAX_BINDINGS_PER_USER: '3', PARLEY_SIP_DIGEST_ALGORITHMS: 'MD5,SHA-256' });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'guessed']) await gw.addUser(u);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw.stop();
});

async function client(user: string, transport: 'udp' | 'tcp' = 'udp') {
  const c = await SipClient.open(gw.sipPort, user, transport);
  clients.push(c);
  return c;
}

const bindings = (user: string) => gw.gateway.locations.list(`${user}@localhost`);

describe('registrar', () => {
  it('challenges a REGISTER with 401 and, with SHA-256 enabled, accepts MD5 and SHA-256 digest answers', async () => {
    const c = await client('alice');
    const ok = await register(c, TEST_PASSWORD, { algorithm: 'MD5' });
    expect(ok.status).toBe(200);
    expect(ok.header('Contact')).toMatch(new RegExp(`<sip:alice@127.0.0.1:${c.port}>;expires=(600|599)`));
    const ok2 = await register(c, TEST_PASSWORD, { algorithm: 'SHA-256' });
    expect(ok2.status).toBe(200);
    expect(await bindings('alice')).toHaveLength(1);
  });

  it('refuses a wrong password and a REGISTER for somebody else', async () => {
    const c = await client('bob');
    await expect(register(c, 'wrong-password')).resolves.toMatchObject({ status: 403 });
    // bob's credentials, alice's address-of-record.
    const callId = uid();
    const base = { method: 'REGISTER', uri: 'sip:localhost', from: 'alice', to: 'alice', callId, contact: c.contact };
    c.send(buildRequest(c, { ...base, cseq: 1 }));
    const challenge = await c.final(callId, 'REGISTER');
    const auth = digestAuthorization(challenge, { username: 'bob', password: TEST_PASSWORD, method: 'REGISTER', uri: 'sip:localhost' });
    c.send(buildRequest(c, { ...base, cseq: 2, extra: [auth] }));
    await expect(c.final(callId, 'REGISTER')).resolves.toMatchObject({ status: 403 });
  });

  it('refuses a replayed Authorization header', async () => {
    const c = await client('carol');
    const callId = uid();
    const base = { method: 'REGISTER', uri: 'sip:localhost', from: 'carol', to: 'carol', callId, contact: c.contact };
    c.send(buildRequest(c, { ...base, cseq: 1 }));
    const challenge = await c.final(callId, 'REGISTER');
    const auth = digestAuthorization(challenge, { username: 'carol', password: TEST_PASSWORD, method: 'REGISTER', uri: 'sip:localhost' });
    c.send(buildRequest(c, { ...base, cseq: 2, extra: [auth] }));
    expect((await c.final(callId, 'REGISTER')).status).toBe(200);
    // An eavesdropper sends the same credentials again in a new transaction.
    c.send(buildRequest(c, { ...base, cseq: 3, extra: [auth] }));
    const replay = await c.final(callId, 'REGISTER');
    expect(replay.status).toBe(403);
    expect(replay.startLine).toMatch(/Replayed/);
  });

  it('answers 423 with Min-Expires when the expiry is too short', async () => {
    const c = await client('dave');
    const res = await register(c, TEST_PASSWORD, { expires: 10 });
    expect(res.status).toBe(423);
    expect(res.header('Min-Expires')).toBe('60');
  });

  it('keeps several devices with q-values, removes one with expires=0 and all with *', async () => {
    const phone = await client('erin');
    const desk = await client('erin', 'tcp');
    expect((await register(phone, TEST_PASSWORD, { contact: `${phone.contact};q=0.5` })).status).toBe(200);
    const both = await register(desk, TEST_PASSWORD, { contact: `${desk.contact};q=1.0` });
    expect(both.headers('Contact')).toHaveLength(2);
    const list = await bindings('erin');
    expect(list.map((b) => b.q)).toEqual([1, 0.5]); // highest q first
    expect(list.map((b) => b.transport).sort()).toEqual(['tcp', 'udp']);

    // Remove only the phone.
    const removed = await register(phone, TEST_PASSWORD, { contact: `${phone.contact};expires=0` });
    expect(removed.headers('Contact')).toHaveLength(1);
    expect((await bindings('erin')).map((b) => b.transport)).toEqual(['tcp']);

    // "*" needs Expires: 0 …
    expect((await register(phone, TEST_PASSWORD, { contact: '*', expires: 60 })).status).toBe(400);
    // … and then removes every binding.
    expect((await register(phone, TEST_PASSWORD, { contact: '*', expires: 0 })).status).toBe(200);
    expect(await bindings('erin')).toHaveLength(0);
  });

  it('limits the number of devices per user', async () => {
    const cs = await Promise.all([1, 2, 3, 4].map(() => client('alice')));
    const results = [];
    for (const c of cs) results.push((await register(c, TEST_PASSWORD)).status);
    // alice already had one binding from the first test: 3 allowed in total.
    expect(results).toEqual([200, 200, 403, 403]);
  });

  it('stops answering password guesses after too many wrong ones (PARLEY_LOGIN_MAX_FAILURES)', async () => {
    const c = await client('guessed');
    for (let i = 0; i < 10; i++) expect((await register(c, `guess-${i}`)).status).toBe(403);
    const blocked = await register(c, TEST_PASSWORD); // even the right password, for now
    expect(blocked.status).toBe(403);
    expect(blocked.startLine).toMatch(/Too Many Failed Attempts/);
    expect(Number(blocked.header('Retry-After'))).toBeGreaterThan(0);
  });

  it('drops the bindings of a TCP connection when it closes', async () => {
    const c = await client('bob', 'tcp');
    expect((await register(c, TEST_PASSWORD)).status).toBe(200);
    expect(await bindings('bob')).toHaveLength(1);
    c.close();
    await expect.poll(async () => (await bindings('bob')).length).toBe(0);
  });
});
