/**
 * Embedding: embed keys admit guests only for the sites and meetings they name, sites must be
 * allowed by the operator, and only /embed/ pages may be framed, and only by those sites.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../../server-common/test-support/restClient.js';
import { startTestGateway, type TestGateway } from '../../test-support/testGateway.js';
import { checkEmbedKey, issueEmbedKey, roomMatches } from './embedKeys.js';

const KEY = new Uint8Array(32).fill(7);
const SITE = 'https://physics.example.edu';
const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('embed keys', () => {
  const check = (token: string, room: string, origin: string | undefined, allowed = [SITE]) =>
    checkEmbedKey(token, KEY, { room, origin, allowedOrigins: allowed });

  it('admit a guest to a matching meeting from a named, allowed site', async () => {
    const { key } = await issueEmbedKey({ id: 'k1', origins: [SITE], rooms: 'physics-*' }, KEY, 3600);
    expect(await check(key, 'physics-101', SITE)).toMatchObject({ ok: true, claims: { origins: [SITE], rooms: 'physics-*' } });
  });

  it('refuse other meetings, other sites, sites the operator has not allowed, and pages that say nothing', async () => {
    const { key } = await issueEmbedKey({ id: 'k1', origins: [SITE], rooms: 'physics-*' }, KEY, 3600);
    expect(await check(key, 'chemistry-1', SITE)).toEqual({ ok: false, reason: expect.stringMatching(/does not open this meeting/) });
    expect(await check(key, 'physics-101', 'https://evil.example')).toEqual({ ok: false, reason: expect.stringMatching(/may not embed/) });
    expect(await check(key, 'physics-101', SITE, [])).toEqual({ ok: false, reason: expect.stringMatching(/may not embed/) });
    expect(await check(key, 'physics-101', undefined)).toMatchObject({ ok: false });
  });

  it('refuse forged, altered and expired keys', async () => {
    const { key } = await issueEmbedKey({ id: 'k1', origins: [SITE], rooms: '*' }, KEY, 3600);
    const [h, p, s] = key.split('.');
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), origins: ['https://evil.example'] })).toString('base64url');
    expect(await check(`${h}.${widened}.${s}`, 'x-1', 'https://evil.example', ['https://evil.example'])).toMatchObject({ ok: false, reason: 'This embed key is not valid.' });
    const { key: other } = await issueEmbedKey({ id: 'k1', origins: [SITE], rooms: '*' }, new Uint8Array(32).fill(8), 3600);
    expect(await check(other, 'x-1', SITE)).toMatchObject({ ok: false, reason: 'This embed key is not valid.' });
    const { key: old } = await issueEmbedKey({ id: 'k1', origins: [SITE], rooms: '*' }, KEY, -10);
    expect(await check(old, 'x-1', SITE)).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
    expect(await check('not-a-key', 'x-1', SITE)).toMatchObject({ ok: false });
  });

  it('match meeting names exactly, by prefix, or all', () => {
    expect(roomMatches('physics-101', 'physics-101')).toBe(true);
    expect(roomMatches('physics-101', 'physics-1012')).toBe(false);
    expect(roomMatches('physics-*', 'physics-2')).toBe(true);
    expect(roomMatches('physics-*', 'chem-2')).toBe(false);
    expect(roomMatches('*', 'anything')).toBe(true);
  });
});

describe('embedding through the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ PARLEY_EMBED_ORIGINS: `${SITE},http://localhost:9999` });
  });
  afterAll(() => gw?.stop());

  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, 'bin/parley.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...gw.storageEnv, PARLEY_EMBED_ORIGINS: SITE },
      encoding: 'utf8',
    });

  it('lets only the allowed sites frame /embed/ pages, and nobody frame the rest', async () => {
    const embed = await fetch(`${gw.url}/embed/meeting?room=physics-101`);
    expect(embed.headers.get('content-security-policy')).toBe(`frame-ancestors 'self' ${SITE} http://localhost:9999`);
    const app = await fetch(`${gw.url}/`);
    expect(app.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    const demo = await fetch(`${gw.url}/embed-demo`);
    expect(demo.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(await demo.text()).toContain("Parley.embed('#meet'");
  });

  it('admits a guest with the operator’s embed key from the CLI, and refuses a forged one', async () => {
    const made = cli(['embed-key', '--origin', SITE, '--room', 'physics-*', '--days', '30']);
    expect(made.status, made.stderr).toBe(0);
    const key = made.stdout.trim();
    expect(made.stderr).toMatch(/valid until/);

    const info = await api(gw.url, 'GET', `/api/conferences/physics-101?embedKey=${encodeURIComponent(key)}&embedOrigin=${encodeURIComponent(SITE)}`);
    expect(info).toMatchObject({ status: 200, body: { you: { kind: 'guest' } } });
    const join = await api(gw.url, 'POST', '/api/conferences/physics-101/join', { body: { embedKey: key, embedOrigin: SITE, displayName: 'Guest' } });
    expect(join).toMatchObject({ status: 200, body: { you: { displayName: 'Guest', role: 'guest' } } });
    expect(typeof join.body.token).toBe('string');

    const forged = `${key.slice(0, -4)}AAAA`;
    const refused = await api(gw.url, 'POST', '/api/conferences/physics-101/join', { body: { embedKey: forged, embedOrigin: SITE, displayName: 'Guest' } });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'invalid_embed_key' } } });
    const elsewhere = await api(gw.url, 'POST', '/api/conferences/physics-101/join', {
      body: { embedKey: key, embedOrigin: 'http://localhost:9999', displayName: 'Guest' },
    });
    expect(elsewhere).toMatchObject({ status: 403, body: { error: { message: expect.stringMatching(/may not embed/) } } });
    const otherRoom = await api(gw.url, 'POST', '/api/conferences/chemistry-1/join', { body: { embedKey: key, embedOrigin: SITE, displayName: 'Guest' } });
    expect(otherRoom.status).toBe(403);
  });

  it('explains bad embed-key arguments', () => {
    expect(cli(['embed-key'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/at least one --origin/) });
    expect(cli(['embed-key', '--origin', 'https://x.example/path'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/only scheme/) });
    expect(cli(['embed-key', '--origin', SITE, '--room', 'Bad Room'])).toMatchObject({ status: 2 });
  });
});
