/**
 * `parley db copy`: an installation on SQLite with every kind of record is copied to a real
 * PostgreSQL database by the CLI (as an operator runs it); every record is there afterwards,
 * a second run copies nothing and still checks, and a gateway on the copy signs the user in
 * with their old password and finds their archive under the ids their clients already hold.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../server-common/logger.js';
import { freshPostgresDatabase } from '../../../../server-common/test-support/postgresDatabase.js';
import { signIn } from '../../../../server-common/test-support/restClient.js';
import { startTestGateway, TEST_PASSWORD } from '../../../test-support/testGateway.js';
import { AccountDirectory } from '../../directory/accountDirectory.js';
import { Storage } from '../storage.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const logger = createLogger('silent');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-copy-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function parley(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/parley.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_DATA: dataDir, PARLEY_PASSWORD_HASH_COST: '10', DATABASE_URL: '', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** One of every record, written through the stores the gateway uses. */
async function populate(): Promise<{ archiveIds: string[] }> {
  const s = await Storage.open({ dataDir, logger, watchMs: 0, archiveThread: false });
  try {
    const accounts = new AccountDirectory({ records: s.accounts, realm: 'localhost', passwordHashCost: 10, scramIterations: 4096 });
    await accounts.create({ username: 'alice', password: TEST_PASSWORD, displayName: 'Alice Liddell' });
    await accounts.create({ username: 'bob', password: TEST_PASSWORD });
    await s.sessions.insert({ idHash: 'h-alice', username: 'alice', createdAt: 1, expiresAt: Date.now() + 3600_000, userAgent: 'test' });
    await s.rosters.put('alice', { contact: 'bob@localhost', subscription: 'both', ask: false, pendingIn: false, inRoster: true, groups: ['Friends'] });
    await s.rosters.put('bob', { contact: 'alice@localhost', name: 'Alice', subscription: 'both', ask: false, pendingIn: true, inRoster: true, groups: [] });
    await s.offline.store('bob', { stanza: '<message><body>while you were out</body></message>', stamp: 5 }, 0);
    await s.vcards.put('alice', { vcard: '<vCard xmlns="vcard-temp"><FN>Alice</FN></vCard>', photoHash: 'abc' });
    await s.mucRooms.save({ jid: 'team@conference.localhost', config: '{"persistent":true}', affiliations: '{"alice@localhost":"owner"}', subject: '{"text":"hi"}' });
    await s.uploads.insert({ id: 'upload-id-0123456789', owner: 'alice@localhost', filename: 'a.txt', contentType: 'text/plain', size: 3, createdAt: 7 });
    await s.uploads.complete('upload-id-0123456789');
    await s.calls.saveAll([{ callId: 'call-1', caller: 'alice', callee: 'bob', startedAt: 10, answeredAt: 11, endedAt: 20, outcome: 'answered', video: true }]);
    await s.conferences.ensure('abc-defg-hij', 'alice', 'Planning', 30);
    await s.embedKeys.insert({ id: 'key-1', origins: ['https://site.example'], rooms: 'physics-*', createdAt: 40, expiresAt: Date.now() + 86400_000 });
    await s.serverSecret(undefined, dataDir);
    const archiveIds: string[] = [];
    const commits: Array<Promise<void>> = [];
    for (let i = 0; i < 1200; i++) {
      // More than one batch, in both owners' archives.
      const owner = i % 2 ? 'alice' : 'bob';
      const added = s.archive.add(owner, i % 2 ? 'bob@localhost' : 'alice@localhost', (id) => `<message><body>m${i}</body><stanza-id id="${id}"/></message>`, 1000 + i);
      archiveIds.push(added.id);
      commits.push(added.committed);
    }
    await Promise.all(commits);
    return { archiveIds };
  } finally {
    await s.close();
  }
}

describe('parley db copy --from sqlite:<dir> --to postgres://…', () => {
  it('copies every record, is safe to run again, and a gateway on the copy carries on', async () => {
    const { archiveIds } = await populate();
    const url = await freshPostgresDatabase('copy');

    const first = parley(['db', 'copy', '--from', `sqlite:${dataDir}`, '--to', url]);
    expect(first.code, first.err + first.out).toBe(0);
    expect(first.out).toMatch(/archive\s+1200 rows, 1200 copied now, all 1200 present/);
    expect(first.out).toMatch(/accounts\s+2 rows, 2 copied now, all 2 present/);
    // The password of the URL never appears in what the tool prints.
    expect(first.out).not.toContain(new URL(url).password || '\u0000');

    const again = parley(['db', 'copy', '--from', `sqlite:${dataDir}`, '--to', url]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/archive\s+1200 rows, 0 copied now, all 1200 present/);
    expect(again.out).not.toMatch(/[1-9]\d* copied now/);

    const pg = await Storage.open({ databaseUrl: url, dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'parley-copy-pg-')), logger });
    try {
      expect((await pg.accounts.list()).map((a) => [a.username, a.displayName])).toEqual([
        ['alice', 'Alice Liddell'],
        ['bob', 'bob'],
      ]);
      expect((await pg.sessions.get('h-alice', Date.now()))?.username).toBe('alice');
      expect(await pg.rosters.list('alice')).toEqual([{ contact: 'bob@localhost', name: undefined, subscription: 'both', ask: false, pendingIn: false, inRoster: true, groups: ['Friends'] }]);
      expect((await pg.rosters.list('bob'))[0]).toMatchObject({ name: 'Alice', pendingIn: true });
      expect(await pg.vcards.get('alice')).toEqual({ vcard: '<vCard xmlns="vcard-temp"><FN>Alice</FN></vCard>', photoHash: 'abc' });
      expect(await pg.mucRooms.all()).toEqual([{ jid: 'team@conference.localhost', config: '{"persistent":true}', affiliations: '{"alice@localhost":"owner"}', subject: '{"text":"hi"}' }]);
      expect(await pg.uploads.get('upload-id-0123456789')).toMatchObject({ owner: 'alice@localhost', size: 3, complete: true });
      expect(await pg.calls.forUser('bob', 10)).toEqual([{ callId: 'call-1', caller: 'alice', callee: 'bob', startedAt: 10, answeredAt: 11, endedAt: 20, outcome: 'answered', video: true }]);
      expect(await pg.conferences.get('abc-defg-hij')).toEqual({ name: 'abc-defg-hij', owner: 'alice', title: 'Planning', createdAt: 30 });
      expect(await pg.embedKeys.get('key-1')).toMatchObject({ origins: ['https://site.example'], rooms: 'physics-*' });
      // Offline messages are taken exactly once, and new rows get ids after the copied ones.
      expect(await pg.offline.takeAll('bob')).toEqual([{ stanza: '<message><body>while you were out</body></message>', stamp: 5 }]);
      await pg.calls.saveAll([{ callId: 'call-2', caller: 'bob', callee: 'alice', startedAt: 50, outcome: 'ringing', video: false }]);
      // The archive: same ids, same order, and the next message comes after them.
      const page = await pg.archive.query({ owner: 'alice', max: 1000 });
      if (page === 'item-not-found') throw new Error('archive page not found');
      expect(page.count).toBe(600);
      expect(page.messages.map((m) => m.id)).toEqual(archiveIds.filter((_, i) => i % 2));
      const after = await pg.archive.query({ owner: 'alice', after: archiveIds[1], max: 1 });
      expect(after !== 'item-not-found' && after.messages[0].id).toBe(archiveIds[3]);
      const next = pg.archive.add('alice', 'bob@localhost', () => '<message><body>new</body></message>');
      await next.committed;
      const last = await pg.archive.query({ owner: 'alice', before: '', max: 1 });
      expect(last !== 'item-not-found' && last.messages[0].id).toBe(next.id);
      // Same server secret, so links and keys issued before keep working.
      const before = await Storage.open({ dataDir, logger, watchMs: 0, archiveThread: false });
      try {
        expect((await pg.serverSecret(undefined, '/nonexistent')).equals(await before.serverSecret(undefined, dataDir))).toBe(true);
      } finally {
        await before.close();
      }
    } finally {
      await pg.close();
    }

    // A gateway on the copy signs alice in with the password she had.
    const gw = await startTestGateway({ DATABASE_URL: url });
    try {
      await expect(signIn(gw.url, 'alice', TEST_PASSWORD)).resolves.toBeTruthy();
    } finally {
      await gw.stop();
    }
  }, 120_000);

  it('explains wrong arguments and a missing installation', () => {
    expect(parley(['db', 'copy', '--from', dataDir, '--to', 'postgres://x/y'])).toMatchObject({ code: 1, err: expect.stringMatching(/--from sqlite:/) });
    expect(parley(['db', 'copy', '--from', 'sqlite:/nonexistent-dir', '--to', 'postgres://127.0.0.1:1/x'])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/no Parley database/),
    });
  });
});

describe('parley db status / migrate', () => {
  it('says where the records are and brings the schema up to date', () => {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-status-'));
    try {
      const before = parley(['db', 'status'], { PARLEY_DATA: fresh });
      expect(before).toMatchObject({ code: 3, out: expect.stringMatching(/main: version 0 of \d+ — to apply/) });
      expect(parley(['db', 'migrate'], { PARLEY_DATA: fresh })).toMatchObject({ code: 0, out: expect.stringMatching(/main: 0 → \d+/) });
      expect(parley(['db', 'status'], { PARLEY_DATA: fresh })).toMatchObject({ code: 0, out: expect.stringMatching(/archive: version 1 of 1 \(up to date\)/) });
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('refuses an unreachable PostgreSQL with the reason and no password', () => {
    const r = parley(['db', 'status'], { DATABASE_URL: 'postgres://parley:s3cret-pw@127.0.0.1:1/parley' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Cannot use the PostgreSQL database at postgres:\/\/parley:\*+@127\.0\.0\.1:1\/parley/);
    expect(r.err).not.toContain('s3cret-pw');
  });
});
