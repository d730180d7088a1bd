/**
 * App passwords for phones and XMPP clients, and disabled accounts, over real sockets: a SIP UA
 * registering over UDP, xmpp.js logging in over TCP, the REST API and the `parley` CLI against
 * the gateway's own records.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appPasswordList,
  clientSettings,
  newAppPasswordResponse,
  type AppPasswordList,
  type ClientSettings,
  type NewAppPasswordResponse,
} from '../../../contracts/rest/devices.js';
import { api as restApi, signIn as signInAs } from '../../../server-common/test-support/restClient.js';
import { register, SipClient } from '../../test-support/sipClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../test-support/testGateway.js';
import { connect, type TestXmpp } from '../../test-support/xmppClient.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_APP_PASSWORDS_MAX: '3' });
  for (const name of ['dora', 'eve', 'fred', 'gina']) await gw.addUser(name, TEST_PASSWORD, name.toUpperCase());
});

afterAll(async () => {
  await gw?.stop();
});

const cli = (args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin/parley.js'), ...args], { cwd: ROOT, env: { ...process.env, ...gw.storageEnv, PARLEY_APP_PASSWORDS_MAX: '3' }, encoding: 'utf8' });

const signIn = (username: string) => signInAs(gw.url, username, TEST_PASSWORD);

/** A REST call, its body parsed with the contract's schema when one is given. */
async function api<T>(cookie: string, method: string, url: string, body?: unknown, schema?: { parse(v: unknown): T }): Promise<{ status: number; body: T }> {
  const res = await restApi(gw.url, method, url, { cookie, body });
  return { status: res.status, body: schema && res.status < 300 ? schema.parse(res.body) : (res.body as T) };
}

async function registerWith(user: string, password: string): Promise<number> {
  const phone = await SipClient.open(gw.sipPort, user, 'udp');
  try {
    return (await register(phone, password)).status ?? 0;
  } finally {
    phone.close();
  }
}

/** Resolves with the stream error condition that ends the client's session. */
function streamEnd(client: TestXmpp): Promise<string> {
  return new Promise((resolve) => client.xmpp.on('error', (err: Error & { condition?: string }) => err.condition && resolve(err.condition)));
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('app passwords', () => {
  it('register a SIP phone and log an XMPP client in, show their last use, and revoking one ends both: the next REGISTER gets 403', async () => {
    const cookie = await signIn('dora');
    const made = await api<NewAppPasswordResponse>(cookie, 'POST', '/api/app-passwords', { label: 'Desk phone', scopes: ['sip', 'xmpp'] }, newAppPasswordResponse);
    expect(made.status).toBe(201);
    const { password, appPassword } = made.body;
    expect(password).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    expect(appPassword).toMatchObject({ label: 'Desk phone', scopes: ['sip', 'xmpp'] });

    expect(await registerWith('dora', password)).toBe(200);
    const bindings = await gw.gateway.locations.list('dora@localhost');
    expect(bindings.map((b) => b.credential)).toEqual([`app:${appPassword.id}`]);
    const client = await connect(gw, 'dora', password);
    const ended = streamEnd(client);

    // Listed with where it was used last; the password itself is never listed.
    const listed = await until(
      () => api<AppPasswordList>(cookie, 'GET', '/api/app-passwords', undefined, appPasswordList),
      (r) => r.body.appPasswords[0]?.lastUsedBy !== undefined,
      'the last use',
    );
    expect(listed.body).toMatchObject({ max: 3, appPasswords: [{ id: appPassword.id, label: 'Desk phone', lastUsedBy: expect.stringMatching(/^(SIP|XMPP) from 127\.0\.0\.1$/) }] });
    expect(JSON.stringify(listed.body)).not.toContain(password);

    const revoked = await api<{ ok: boolean }>(cookie, 'DELETE', `/api/app-passwords/${appPassword.id}`);
    expect(revoked).toEqual({ status: 200, body: { ok: true } });
    expect(await ended).toBe('policy-violation');
    await until(() => gw.gateway.locations.list('dora@localhost'), (b) => b.length === 0, 'the registration to go');
    expect(await registerWith('dora', password)).toBe(403);
    await expect(connect(gw, 'dora', password)).rejects.toThrow(/not-authorized/);
    await client.stop();
    // The account itself is untouched.
    expect(await registerWith('dora', TEST_PASSWORD)).toBe(200);
    expect((await api<{ error: { code: string } }>(cookie, 'DELETE', `/api/app-passwords/${appPassword.id}`)).status).toBe(404);
  });

  it('are limited to what they were made for: a SIP-only one cannot log in over XMPP, an XMPP-only one cannot register', async () => {
    const cookie = await signIn('eve');
    const sip = (await api<NewAppPasswordResponse>(cookie, 'POST', '/api/app-passwords', { label: 'Phone', scopes: ['sip'] })).body;
    const xmpp = (await api<NewAppPasswordResponse>(cookie, 'POST', '/api/app-passwords', { label: 'Gajim', scopes: ['xmpp'] })).body;
    expect(sip.provisioning?.linphoneUrl).toMatch(/\/provisioning\/linphone\//);
    expect(xmpp.provisioning).toBeUndefined();
    expect(await registerWith('eve', sip.password)).toBe(200);
    await expect(connect(gw, 'eve', sip.password)).rejects.toThrow(/not-authorized/);
    expect(await registerWith('eve', xmpp.password)).toBe(403);
    const client = await connect(gw, 'eve', xmpp.password);
    await client.stop();
    // Someone else's app password is not yours.
    const other = await signIn('fred');
    expect((await api(other, 'DELETE', `/api/app-passwords/${sip.appPassword.id}`)).status).toBe(404);
    expect(await registerWith('fred', sip.password)).toBe(403);
  });

  it('refuse a device name that is empty and a password beyond the most a user may hold, saying why', async () => {
    const cookie = await signIn('fred');
    expect((await api(cookie, 'POST', '/api/app-passwords', { label: ' ', scopes: ['sip'] })).status).toBe(400);
    expect((await api(cookie, 'POST', '/api/app-passwords', { label: 'x', scopes: [] })).status).toBe(400);
    for (const label of ['one', 'two', 'three']) expect((await api(cookie, 'POST', '/api/app-passwords', { label, scopes: ['sip'] })).status).toBe(201);
    const fourth = await api<{ error: { code: string; message: string } }>(cookie, 'POST', '/api/app-passwords', { label: 'four', scopes: ['sip'] });
    expect(fourth.status).toBe(409);
    expect(fourth.body.error.message).toMatch(/revoke one/);
    expect((await fetch(`${gw.url}/api/app-passwords`)).status).toBe(401);
  });

  it('give a provisioning link that serves Linphone its account with the app password, until it is revoked; a forged link is refused', async () => {
    const cookie = await signIn('gina');
    const made = (await api<NewAppPasswordResponse>(cookie, 'POST', '/api/app-passwords', { label: 'Linphone', scopes: ['sip'] })).body;
    const xml = await fetch(made.provisioning!.linphoneUrl);
    expect(xml.status).toBe(200);
    expect(xml.headers.get('content-type')).toMatch(/^application\/xml/);
    const text = await xml.text();
    const settings = (await api<ClientSettings>(cookie, 'GET', '/api/client-settings', undefined, clientSettings)).body;
    expect(settings.sip.transports).toEqual(expect.arrayContaining([{ transport: 'udp', port: gw.sipPort }, { transport: 'tls', port: gw.sipTlsPort }]));
    expect(settings.xmpp).toMatchObject({ jid: 'gina@localhost', port: gw.xmppPort });
    expect(text).toContain('<entry name="reg_identity">&quot;GINA&quot; &lt;sip:gina@localhost&gt;</entry>');
    expect(text).toContain(`<entry name="reg_proxy">&lt;sip:127.0.0.1:${gw.sipPort};transport=udp&gt;</entry>`);
    expect(text).toContain(`<entry name="passwd">${made.password}</entry>`);

    const forged = made.provisioning!.linphoneUrl.replace(/.{6}$/, 'AAAAAA');
    expect((await fetch(forged)).status).toBe(410);
    await api(cookie, 'DELETE', `/api/app-passwords/${made.appPassword.id}`);
    const gone = await fetch(made.provisioning!.linphoneUrl);
    expect(gone.status).toBe(410);
    expect(await gone.text()).toMatch(/revoked/);
  });

  it('are managed by operators with the CLI: add prints the password once, list shows it, revoke ends it', async () => {
    const added = cli(['app-password', 'add', 'fred', '--label', 'Lobby phone', '--sip']);
    // fred holds the most already (the limit test above): the CLI says so.
    expect(added.status).toBe(1);
    expect(added.stderr).toMatch(/revoke one/);
    const cookie = await signIn('fred');
    const list = (await api<AppPasswordList>(cookie, 'GET', '/api/app-passwords', undefined, appPasswordList)).body.appPasswords;
    const listed = cli(['app-password', 'list', 'fred']);
    expect(listed.status, listed.stderr).toBe(0);
    for (const a of list) expect(listed.stdout).toContain(a.id);
    const revoked = cli(['app-password', 'revoke', 'fred', list[0].id]);
    expect(revoked.status, revoked.stderr).toBe(0);
    const again = cli(['app-password', 'add', 'fred', '--label', 'Lobby phone', '--sip']);
    expect(again.status, again.stderr).toBe(0);
    const password = again.stdout.trim();
    expect(password).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    // The gateway reads the CLI's change from the shared records.
    expect(await until(() => registerWith('fred', password), (s) => s === 200, 'the new app password to count')).toBe(200);
  });
});

describe('a disabled account', () => {
  it('loses its web sessions, SIP registrations and XMPP sessions at once, cannot sign in anywhere, and comes back when enabled', async () => {
    const cookie = await signIn('eve');
    expect(await registerWith('eve', TEST_PASSWORD)).toBe(200);
    const client = await connect(gw, 'eve', TEST_PASSWORD);
    const ended = streamEnd(client);

    const disabled = cli(['user', 'disable', 'eve']);
    expect(disabled.status, disabled.stderr).toBe(0);
    expect(await ended).toBe('policy-violation');
    await until(() => gw.gateway.locations.list('eve@localhost'), (b) => b.length === 0, 'the registrations to go');
    await client.stop();
    expect((await fetch(`${gw.url}/api/me`, { headers: { cookie } })).status).toBe(401);
    const login = await fetch(`${gw.url}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'eve', password: TEST_PASSWORD }) });
    expect(login.status).toBe(401);
    expect(await registerWith('eve', TEST_PASSWORD)).toBe(403);
    await expect(connect(gw, 'eve', TEST_PASSWORD)).rejects.toThrow(/not-authorized/);
    expect(cli(['user', 'list']).stdout).toMatch(/^eve\t.*disabled/m);

    expect(cli(['user', 'enable', 'eve']).status).toBe(0);
    expect(await until(() => registerWith('eve', TEST_PASSWORD), (s) => s === 200, 'the account to count again')).toBe(200);
    await signIn('eve');
  });
});
