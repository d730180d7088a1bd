/**
 * Two gateway processes on one PostgreSQL database — what several nodes of one deployment
 * share through it: accounts created at once, roster edits from two devices on different
 * nodes, offline messages taken by two sessions coming online together, the archive written
 * by both nodes, web sessions, guest links and embed keys honoured on the other node.
 * (Delivering stanzas between nodes is the multi-node gateway's work, not the database's.)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Element } from 'ltx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../server-common/logger.js';
import { freshPostgresDatabase } from '../../../server-common/test-support/postgresDatabase.js';
import { api, signIn } from '../../../server-common/test-support/restClient.js';
import { GatewayProcess } from '../../test-support/gatewayProcess.js';
import { TEST_PASSWORD } from '../../test-support/testGateway.js';
import { connect, xml, type TestXmpp } from '../../test-support/xmppClient.js';
import { AccountDirectory } from '../directory/accountDirectory.js';
import { Storage } from './storage.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const SITE = 'https://site.example';
let databaseUrl: string;
let storage: Storage;
let a: GatewayProcess;
let b: GatewayProcess;
const clients: TestXmpp[] = [];

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', ...Array.from({ length: 12 }, (_, i) => `p${i}`)];

beforeAll(async () => {
  databaseUrl = await freshPostgresDatabase('shared');
  storage = await Storage.open({ databaseUrl, dataDir: '/nonexistent', logger: createLogger('silent') });
  const env = { DATABASE_URL: databaseUrl, PARLEY_EMBED_ORIGINS: SITE };
  a = new GatewayProcess({ env });
  b = new GatewayProcess({ env });
  // Started one after the other would hide a migration race: start them together.
  await Promise.all([a.start(), b.start()]);
  const accounts = new AccountDirectory({ records: storage.accounts, realm: 'localhost', passwordHashCost: 10, scramIterations: 4096 });
  for (const u of USERS) await accounts.create({ username: u, password: TEST_PASSWORD });
  const mutual = async (x: string, y: string) => {
    const item = (contact: string) => ({ contact, subscription: 'both' as const, ask: false, pendingIn: false, inRoster: true, groups: [] });
    await storage.rosters.put(x, item(`${y}@localhost`));
    await storage.rosters.put(y, item(`${x}@localhost`));
  };
  await mutual('carol', 'dave');
  await mutual('erin', 'gina');
  await mutual('frank', 'gina');
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  await Promise.all([a?.stop(), b?.stop()]);
  await storage?.close();
});

async function login(gw: GatewayProcess, user: string, resource: string, presence = true): Promise<TestXmpp> {
  const c = await connect(gw, user, TEST_PASSWORD, { resource, presence });
  clients.push(c);
  return c;
}

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/parley.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, PARLEY_PASSWORD_HASH_COST: '10', PARLEY_EMBED_ORIGINS: SITE },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const rosterOf = async (c: TestXmpp) =>
  (await c.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })))).getChild('query')!.getChildren('item') as Element[];

async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await probe();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  if (!ok(last)) throw new Error(`${what}: still ${JSON.stringify(last)}`);
  return last;
}

describe('two gateways on one PostgreSQL database', () => {
  it('create an account exactly once when two operators add the same name at once', async () => {
    const results = await Promise.all([cli(['user', 'add', 'zed', '--password', 'zed-pass-123']), cli(['user', 'add', 'zed', '--password', 'zed-pass-456'])]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)!.err).toMatch(/already exists/);
    // Whichever won, both gateways sign zed in with that password and not the other one.
    const works = async (url: string, pw: string) => signIn(url, 'zed', pw).then(() => true, () => false);
    for (const gw of [a, b]) {
      expect([await works(gw.url, 'zed-pass-123'), await works(gw.url, 'zed-pass-456')].filter(Boolean)).toHaveLength(1);
    }
  });

  it('share web sessions: signed in on one node, signed in on the other', async () => {
    const cookie = await signIn(a.url, 'alice', TEST_PASSWORD);
    const me = await api(b.url, 'GET', '/api/me', { cookie });
    expect(me).toMatchObject({ status: 200, body: { user: { username: 'alice' } } });
    // The SIP/XMPP credential derived from the session is the same on both (one shared secret).
    expect((await api(a.url, 'GET', '/api/me', { cookie })).body.xmpp).toEqual(me.body.xmpp);
    const credential = (me.body.xmpp as { password: string }).password;
    const c = await connect(a, 'alice', credential, { resource: 'with-session-credential' });
    clients.push(c);
    await api(b.url, 'POST', '/api/logout', { cookie });
    expect((await api(a.url, 'GET', '/api/me', { cookie })).status).toBe(401);
  });

  it('keep both sides of a subscription when two users on different nodes ask each other at once', async () => {
    // Six pairs at once, each pair split across the nodes, so the edits really do overlap.
    const pairs = Array.from({ length: 6 }, (_, i) => [`p${2 * i}`, `p${2 * i + 1}`] as const);
    // Logged in one by one: twelve SCRAM logins at once keep this process's event loop busy
    // beyond xmpp.js's 2 s stream timeout. The edits below are what must overlap.
    const sessions: Array<readonly [TestXmpp, TestXmpp]> = [];
    for (const [x, y] of pairs) sessions.push([await login(a, x, 'desk'), await login(b, y, 'phone')] as const);
    await Promise.all(
      sessions.flatMap(([sx, sy], i) => [
        sx.xmpp.send(xml('presence', { to: `${pairs[i][1]}@localhost`, type: 'subscribe' })),
        sy.xmpp.send(xml('presence', { to: `${pairs[i][0]}@localhost`, type: 'subscribe' })),
      ]),
    );
    for (const [i, [sx, sy]] of sessions.entries()) {
      const [x, y] = pairs[i];
      // Each side asked (ask) and was asked (pending in): neither edit overwrote the other.
      await eventually(async () => [(await storage.rosters.list(x))[0], (await storage.rosters.list(y))[0]], ([m, t]) => !!m?.ask && !!m.pendingIn && !!t?.ask && !!t.pendingIn, `${x}/${y} after subscribe`);
      await Promise.all([
        sx.xmpp.send(xml('presence', { to: `${y}@localhost`, type: 'subscribed' })),
        sy.xmpp.send(xml('presence', { to: `${x}@localhost`, type: 'subscribed' })),
      ]);
    }
    for (const [i, [sx, sy]] of sessions.entries()) {
      const [x, y] = pairs[i];
      // Each node's roster answer shows the final state (its cache heard the other node's change).
      const itemX = await eventually(async () => (await rosterOf(sx)).map((e) => [e.attrs.jid, e.attrs.subscription, e.attrs.ask ?? '']), (v) => v[0]?.[1] === 'both' && v[0]?.[2] === '', `${x}'s roster`);
      expect(itemX).toEqual([[`${y}@localhost`, 'both', '']]);
      const itemY = await eventually(async () => (await rosterOf(sy)).map((e) => [e.attrs.jid, e.attrs.subscription]), (v) => v[0]?.[1] === 'both', `${y}'s roster`);
      expect(itemY).toEqual([[`${x}@localhost`, 'both']]);
    }
  });

  it('keep roster items two devices of one user add on different nodes at once', async () => {
    const [desk, phone] = await Promise.all([login(a, 'alice', 'desk'), login(b, 'alice', 'phone')]);
    const set = (c: TestXmpp, jid: string, group: string) =>
      c.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid, name: group }, xml('group', {}, group)))));
    await Promise.all([set(desk, 'carol@localhost', 'Work'), set(phone, 'dave@localhost', 'Home'), set(desk, 'erin@localhost', 'Work'), set(phone, 'frank@localhost', 'Home')]);
    for (const c of [desk, phone]) {
      const jids = await eventually(async () => (await rosterOf(c)).map((e) => e.attrs.jid).sort(), (v) => v.length === 4, 'roster on both devices');
      expect(jids).toEqual(['carol@localhost', 'dave@localhost', 'erin@localhost', 'frank@localhost']);
    }
  });

  it('hand each offline message to exactly one of two sessions coming online together on different nodes', async () => {
    const carol = await login(a, 'carol', 'sender');
    const N = 40;
    for (let i = 0; i < N; i++) await carol.xmpp.send(xml('message', { to: 'dave@localhost', type: 'chat', id: `off-${i}` }, xml('body', {}, `offline ${i}`)));
    await eventually(() => storage.offline.count('dave'), (n) => n === N, 'offline messages stored');
    const [one, two] = await Promise.all([login(a, 'dave', 'one'), login(b, 'dave', 'two')]);
    const bodies = (c: TestXmpp) => c.inbox.filter((s) => s.name === 'message' && s.getChildText('body')?.startsWith('offline ')).map((s) => s.getChildText('body')!);
    await eventually(async () => bodies(one).length + bodies(two).length, (n) => n >= N, 'offline messages delivered');
    await new Promise((r) => setTimeout(r, 500)); // anything delivered twice would have arrived by now
    const all = [...bodies(one), ...bodies(two)];
    expect(all.length).toBe(N);
    expect(new Set(all).size).toBe(N);
    expect(await storage.offline.count('dave')).toBe(0);
  });

  it('archive what two nodes write for one user in one order, each sender’s messages in the order sent', async () => {
    const [erin, frank] = await Promise.all([login(a, 'erin', 'w'), login(b, 'frank', 'w')]);
    const N = 60;
    await Promise.all(
      [
        [erin, 'erin'],
        [frank, 'frank'],
      ].map(async ([c, name]) => {
        for (let i = 0; i < N; i++) await (c as TestXmpp).xmpp.send(xml('message', { to: 'gina@localhost', type: 'chat' }, xml('body', {}, `${name} ${i}`)));
      }),
    );
    const archived = await eventually(
      async () => {
        const page = await storage.archive.query({ owner: 'gina', max: 1000 });
        return page === 'item-not-found' ? [] : page.messages.map((m) => ({ id: m.id, seq: m.seq, body: /<body>([^<]*)<\/body>/.exec(m.stanza)?.[1] ?? '' }));
      },
      (v) => v.length === 2 * N,
      'gina’s archive',
      10_000,
    );
    for (let k = 1; k < archived.length; k++) expect(archived[k].seq).toBeGreaterThan(archived[k - 1].seq);
    expect(new Set(archived.map((m) => m.id)).size).toBe(2 * N);
    for (const name of ['erin', 'frank']) {
      expect(archived.filter((m) => m.body.startsWith(`${name} `)).map((m) => m.body)).toEqual(Array.from({ length: N }, (_, i) => `${name} ${i}`));
    }
    // Gina reads the same archive (MAM) from either node, with the ids the stanzas carried.
    const gina = await login(b, 'gina', 'reader', false);
    const fin = await gina.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: 'urn:xmpp:mam:2', queryid: 'q' }, xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '200')))));
    expect(fin.getChild('fin')!.getChild('set')!.getChildText('count')).toBe(String(2 * N));
  });

  it('honour a guest link made on one node on the other, and an embed key until it is revoked', async () => {
    const cookie = await signIn(a.url, 'bob', TEST_PASSWORD);
    const meeting = await api(a.url, 'POST', '/api/conferences', { cookie, body: {} });
    expect(meeting.status).toBe(201);
    const name = meeting.body.name as string;
    const link = await api(a.url, 'POST', `/api/conferences/${name}/guest-links`, { cookie, body: {} });
    const token = link.body.token as string;
    const onB = await api(b.url, 'GET', `/api/conferences/${name}?guest=${encodeURIComponent(token)}`);
    expect(onB).toMatchObject({ status: 200, body: { exists: true, you: { kind: 'guest' } } });

    const issued = await cli(['embed-key', '--origin', SITE, '--room', 'physics-*']);
    expect(issued.code, issued.err).toBe(0);
    const key = issued.out.trim();
    const id = /Embed key (\S+) for/.exec(issued.err)![1];
    const preview = (gw: GatewayProcess) => api(gw.url, 'GET', `/api/conferences/physics-1?embedKey=${encodeURIComponent(key)}&embedOrigin=${encodeURIComponent(SITE)}`);
    expect((await preview(b)).status).toBe(200);
    expect((await cli(['embed-key', 'list'])).out).toMatch(new RegExp(`^${id}\\t${SITE}\\tphysics-\\*\\tvalid until`, 'm'));
    expect((await cli(['embed-key', 'revoke', id])).code).toBe(0);
    for (const gw of [a, b]) expect(await preview(gw)).toMatchObject({ status: 403, body: { error: { code: 'invalid_embed_key', message: expect.stringMatching(/withdrawn/) } } });
  });
});
