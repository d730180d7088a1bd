/**
 * The storage layer's cases, each run against both engines: SQLite in a temp directory and a
 * real PostgreSQL server (started for the run by postgresGlobalSetup.ts). The concurrency
 * cases run on two Storage instances — two connection pools, as two gateways would have — on
 * PostgreSQL, and on one instance with concurrent callers on SQLite (one process owns it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../server-common/logger.js';
import { freshPostgresDatabase } from '../../../server-common/test-support/postgresDatabase.js';
import { migrate, MigrationError, schemaStatus } from './migrations/migrator.js';
import { MIGRATIONS, type Migration } from './migrations/migrations.js';
import type { RosterItem } from './records/rosterRecords.js';
import { PostgresDatabase } from './sql/postgresDatabase.js';
import type { SqlDatabase } from './sql/sqlDatabase.js';
import { UniqueViolation } from './sql/sqlDatabase.js';
import { SqliteDatabase } from './sql/sqliteDatabase.js';
import { Storage } from './storage.js';

const logger = createLogger('silent');
type Kind = 'sqlite' | 'postgres';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Where a test's records live: a temp dir (SQLite) or a fresh database (PostgreSQL). */
async function place(kind: Kind): Promise<{ dataDir: string; databaseUrl?: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-store-'));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  return { dataDir, databaseUrl: kind === 'postgres' ? await freshPostgresDatabase() : undefined };
}

async function open(at: { dataDir: string; databaseUrl?: string }): Promise<Storage> {
  const storage = await Storage.open({ ...at, logger, watchMs: 0, archiveThread: false });
  cleanups.push(() => storage.close());
  return storage;
}

/** Two handles on the same records: two gateways on PostgreSQL; one process on SQLite. */
async function openTwo(kind: Kind): Promise<[Storage, Storage]> {
  const at = await place(kind);
  const a = await open(at);
  return [a, kind === 'postgres' ? await open(at) : a];
}

async function rawDatabase(kind: Kind, at: { dataDir: string; databaseUrl?: string }): Promise<SqlDatabase> {
  const db = kind === 'postgres' ? await PostgresDatabase.connect({ url: at.databaseUrl!, poolSize: 4, logger }) : new SqliteDatabase({ dir: at.dataDir, file: 'parley.db' });
  cleanups.push(() => db.close());
  return db;
}

const item = (contact: string, over: Partial<RosterItem> = {}): RosterItem => ({
  contact,
  subscription: 'none',
  ask: false,
  pendingIn: false,
  inRoster: true,
  groups: [],
  ...over,
});

describe.each<Kind>(['sqlite', 'postgres'])('storage on %s', (kind) => {
  describe('migrations', () => {
    it('a new database reaches the latest version of both scopes, and opening it again applies nothing', async () => {
      const at = await place(kind);
      const first = await open(at);
      expect(first.migrations.map((m) => [m.scope, m.from, m.to])).toEqual([
        ['main', 0, MIGRATIONS.main.length],
        ['archive', 0, MIGRATIONS.archive.length],
      ]);
      await first.close();
      cleanups.pop();
      const second = await open(at);
      expect(second.migrations.map((m) => m.applied.length)).toEqual([0, 0]);
    });

    it('a migration that fails changes nothing, not even the ones before it in the same start', async () => {
      const db = await rawDatabase(kind, await place(kind));
      const migrations: Migration[] = [
        { version: 1, name: 'one', sqlite: 'CREATE TABLE t1 (x INTEGER)', postgres: 'CREATE TABLE t1 (x INTEGER)' },
        { version: 2, name: 'two', sqlite: 'CREATE TABLE t2 (x INTEGER); INSERT INTO nowhere VALUES (1)', postgres: 'CREATE TABLE t2 (x INTEGER); INSERT INTO nowhere VALUES (1)' },
      ];
      const err = await migrate(db, 'main', migrations).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as Error).message).toMatch(/Migration main 2 \("two"\) failed: .*nowhere.*Nothing was changed: the main schema stays at version 0/);
      // t1 was created in the same transaction: rolled back with it.
      await expect(db.all('SELECT * FROM t1')).rejects.toThrow(/t1/);
      expect((await schemaStatus(db, 'main', migrations)).current).toBe(0);
      // Fixed, it applies.
      migrations[1] = { ...migrations[1], sqlite: 'CREATE TABLE t2 (x INTEGER)', postgres: 'CREATE TABLE t2 (x INTEGER)' };
      expect((await migrate(db, 'main', migrations)).to).toBe(2);
    });

    it('a database newer than this Parley is refused with a message saying what to do', async () => {
      const at = await place(kind);
      const storage = await open(at);
      await storage.db.run('INSERT INTO parley_schema (scope, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)', [
        'main',
        MIGRATIONS.main.length + 1,
        'from the future',
        'x',
        Date.now(),
      ]);
      const err = await migrate(storage.db, 'main').catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/newer than this Parley knows .*Run that version, or upgrade this one/);
    });

    it('an applied migration whose text differs from ours stops the start', async () => {
      const at = await place(kind);
      const storage = await open(at);
      await storage.db.run("UPDATE parley_schema SET checksum = 'edited' WHERE scope = 'main' AND version = 2");
      await expect(migrate(storage.db, 'main')).rejects.toThrow(/Migration main 2 .* differs from this Parley's/);
    });
  });

  it('two accounts with one name: the database keeps the first and the second gets UniqueViolation', async () => {
    const [a, b] = await openTwo(kind);
    const row = (displayName: string) => ({
      username: 'alice',
      displayName,
      createdAt: Date.now(),
      realm: 'example.com',
      passwordHash: 'h',
      ha1Md5: 'm',
      ha1Sha256: 's',
      scramSha1: '{}',
      scramSha256: '{}',
    });
    const results = await Promise.allSettled([a.accounts.insert(row('First')), b.accounts.insert(row('Second'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(UniqueViolation);
    expect((await a.accounts.list()).map((x) => x.username)).toEqual(['alice']);
  });

  it('one read gives what SIP digest and XMPP SCRAM check; HA1s made for another domain are withheld', async () => {
    const [s] = await openTwo(kind);
    await s.accounts.insert({ username: 'carol', displayName: 'Carol', createdAt: 5, realm: 'example.com', passwordHash: 'h', ha1Md5: 'm', ha1Sha256: 's', scramSha1: '{"a":1}', scramSha256: '{"b":2}' });
    expect(await s.accounts.getForSignIn('carol', 'example.com')).toEqual({
      account: { username: 'carol', displayName: 'Carol', createdAt: 5 },
      ha1Md5: 'm',
      ha1Sha256: 's',
      scramSha1: '{"a":1}',
      scramSha256: '{"b":2}',
    });
    const elsewhere = await s.accounts.getForSignIn('carol', 'other.example');
    expect([elsewhere?.ha1Md5, elsewhere?.ha1Sha256, elsewhere?.scramSha1]).toEqual([undefined, undefined, '{"a":1}']);
    expect(await s.accounts.getForSignIn('nobody', 'example.com')).toBeUndefined();
  });

  it('web sessions expire, and deleting one says whose it was', async () => {
    const [s] = await openTwo(kind);
    await s.accounts.insert({ username: 'bob', displayName: 'Bob', createdAt: 0, realm: 'r', passwordHash: 'h', ha1Md5: 'm', ha1Sha256: 's', scramSha1: '{}', scramSha256: '{}' });
    await s.sessions.insert({ idHash: 'h1', username: 'bob', createdAt: 1000, expiresAt: 5000 });
    await s.sessions.insert({ idHash: 'h2', username: 'bob', createdAt: 1000, expiresAt: 9000 });
    expect((await s.sessions.get('h1', 4999))?.username).toBe('bob');
    expect(await s.sessions.get('h1', 5000)).toBeUndefined();
    expect((await s.sessions.liveFor('bob', 6000)).map((x) => x.idHash)).toEqual(['h2']);
    expect(await s.sessions.delete('h2')).toBe('bob');
    expect(await s.sessions.delete('h2')).toBeUndefined();
    expect(await s.sessions.purgeExpired(6000)).toBe(1);
  });

  it('roster edits from two devices at once: every change survives (rows locked while read and written)', async () => {
    const [a, b] = await openTwo(kind);
    await a.rosters.put('alice', item('bob@example.com'));
    // 40 concurrent read-modify-writes of one item, half through each handle: each adds a group.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).rosters.modify([{ owner: 'alice', contact: 'bob@example.com' }], ([current]) => ({
          writes: [{ ...current!, groups: [...current!.groups, `g${i}`] }],
          result: undefined,
        })),
      ),
    );
    const [stored] = await a.rosters.list('alice');
    expect(stored.groups).toHaveLength(40);
    expect(new Set(stored.groups).size).toBe(40);
  });

  it('subscriptions changed from both ends at once do not deadlock and leave both rosters consistent', async () => {
    const [a, b] = await openTwo(kind);
    // alice and bob each approve the other at the same time, 20 times over: each transaction
    // touches both rosters, in opposite orders.
    const approve = (s: Storage, me: string, them: string) =>
      s.rosters.modify(
        [
          { owner: me, contact: `${them}@x` },
          { owner: them, contact: `${me}@x` },
        ],
        ([mine, theirs]) => ({
          writes: [
            item(`${them}@x`, { subscription: mine?.subscription === 'to' ? 'both' : 'from', groups: [...(mine?.groups ?? []), 'x'] }),
            item(`${me}@x`, { subscription: theirs?.subscription === 'from' ? 'both' : 'to', groups: theirs?.groups ?? [] }),
          ],
          result: undefined,
        }),
      );
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? approve(a, 'alice', 'bob') : approve(b, 'bob', 'alice'))));
    const alice = (await a.rosters.list('alice'))[0];
    const bob = (await a.rosters.list('bob'))[0];
    expect(alice.groups.length + bob.groups.length).toBe(20);
  });

  it('offline messages are fetched exactly once by one of two sessions logging in together', async () => {
    const [a, b] = await openTwo(kind);
    for (let i = 0; i < 200; i++) expect(await a.offline.store('carol', { stanza: `<message id="${i}"/>`, stamp: i }, 0)).toBe(true);
    const [first, second] = await Promise.all([a.offline.takeAll('carol'), b.offline.takeAll('carol')]);
    const all = [...first, ...second].map((m) => m.stamp);
    expect(all.sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // Whoever got them got them in the order they were stored.
    for (const got of [first, second]) expect(got.map((m) => m.stamp)).toEqual([...got.map((m) => m.stamp)].sort((x, y) => x - y));
    expect(await a.offline.count('carol')).toBe(0);
  });

  it('the offline store of a user refuses messages beyond its limit', async () => {
    const [s] = await openTwo(kind);
    for (let i = 0; i < 3; i++) expect(await s.offline.store('dave', { stanza: 'm', stamp: i }, 3)).toBe(true);
    expect(await s.offline.store('dave', { stanza: 'm', stamp: 4 }, 3)).toBe(false);
    expect(await s.offline.count('dave')).toBe(3);
  });

  it('archive: ids allocated before the write, committed in batches, and paged forwards and backwards', async () => {
    const [s] = await openTwo(kind);
    const ids: string[] = [];
    const commits: Array<Promise<void>> = [];
    for (let i = 0; i < 25; i++) {
      const { id, committed } = s.archive.add('erin', i % 2 ? 'frank@x' : 'gina@x', (id) => `<message><body>${i}</body><stanza-id id="${id}"/></message>`, 1000 + i);
      ids.push(id);
      commits.push(committed);
    }
    expect(new Set(ids).size).toBe(25);
    await Promise.all(commits);
    const all = await s.archive.query({ owner: 'erin', max: 100 });
    if (all === 'item-not-found') throw new Error('unexpected');
    expect(all.messages.map((m) => m.id)).toEqual(ids);
    expect(all.messages[3].stanza).toContain(`id="${ids[3]}"`);
    const last = await s.archive.query({ owner: 'erin', before: '', max: 10 });
    if (last === 'item-not-found') throw new Error('unexpected');
    expect(last.messages.map((m) => m.id)).toEqual(ids.slice(15));
    expect(last.complete).toBe(false);
    const after = await s.archive.query({ owner: 'erin', after: ids[20], max: 10 });
    if (after === 'item-not-found') throw new Error('unexpected');
    expect(after.messages.map((m) => m.id)).toEqual(ids.slice(21));
    expect(after.complete).toBe(true);
    const withGina = await s.archive.query({ owner: 'erin', with: 'gina@x', max: 100 });
    if (withGina === 'item-not-found') throw new Error('unexpected');
    expect(withGina.count).toBe(13);
    expect(await s.archive.query({ owner: 'someone-else', after: ids[0], max: 10 })).toBe('item-not-found');
    expect(await s.archive.query({ owner: 'erin', after: 'no-such-id', max: 10 })).toBe('item-not-found');
  });

  it('archive: two writers into one conversation — ids unique, the order strictly increasing, and paging after the last id seen misses nothing', async () => {
    const [a, b] = await openTwo(kind);
    const seen: string[] = [];
    let lastSeen: string | undefined;
    const sent: string[] = [];
    // Both write 150 messages into hal's archive in bursts while a reader pages after the last id it saw.
    for (let round = 0; round < 6; round++) {
      const burst: Array<Promise<void>> = [];
      for (let i = 0; i < 25; i++) {
        for (const s of [a, b]) {
          const { id, committed } = s.archive.add('hal', 'ivy@x', (id) => `<message id="${id}"/>`);
          sent.push(id);
          burst.push(committed);
        }
      }
      await Promise.all(burst);
      for (;;) {
        const page = lastSeen === undefined ? await a.archive.query({ owner: 'hal', max: 20 }) : await a.archive.query({ owner: 'hal', after: lastSeen, max: 20 });
        if (page === 'item-not-found') throw new Error('lost the last id');
        seen.push(...page.messages.map((m) => m.id));
        if (page.messages.length) lastSeen = page.messages[page.messages.length - 1].id;
        if (page.complete) break;
      }
    }
    expect(new Set(sent).size).toBe(300);
    expect([...seen].sort()).toEqual([...sent].sort());
    const all = await a.archive.query({ owner: 'hal', max: 1000 });
    if (all === 'item-not-found') throw new Error('unexpected');
    const seqs = all.messages.map((m) => m.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
  });

  it('a meeting started by two people at once has one owner', async () => {
    const [a, b] = await openTwo(kind);
    const [x, y] = await Promise.all([a.conferences.ensure('abc-defg-hij', 'alice', "Alice's meeting"), b.conferences.ensure('abc-defg-hij', 'bob', "Bob's meeting")]);
    expect(x.owner).toBe(y.owner);
    expect((await a.conferences.ownedBy(x.owner)).map((c) => c.name)).toEqual(['abc-defg-hij']);
    expect(await a.conferences.countCreatedSince(x.owner, 0)).toBe(1);
  });

  it('two gateways starting at once share one server secret', async () => {
    const [a, b] = await openTwo(kind);
    const [x, y] = await Promise.all([a.secrets.getOrCreate('server', 'from-a'), b.secrets.getOrCreate('server', 'from-b')]);
    expect(x).toBe(y);
    expect(await a.secrets.getOrCreate('server', 'later')).toBe(x);
  });

  it('embed keys are listed and revoked once; uploads complete once', async () => {
    const [s] = await openTwo(kind);
    await s.embedKeys.insert({ id: 'k1', origins: ['https://a.example'], rooms: 'physics-*', createdAt: 1, expiresAt: 2 });
    expect((await s.embedKeys.list()).map((k) => [k.id, k.origins, k.revokedAt])).toEqual([['k1', ['https://a.example'], undefined]]);
    expect(await s.embedKeys.revoke('k1', 5)).toBe(true);
    expect(await s.embedKeys.revoke('k1', 6)).toBe(false);
    expect((await s.embedKeys.get('k1'))?.revokedAt).toBe(5);
    await s.uploads.insert({ id: 'u1', owner: 'alice', filename: 'a.txt', contentType: 'text/plain', size: 3, createdAt: 1 });
    expect((await s.uploads.get('u1'))?.complete).toBe(false);
    expect(await s.uploads.complete('u1')).toBe(true);
    expect(await s.uploads.complete('u1')).toBe(false);
    expect((await s.uploads.get('u1'))?.complete).toBe(true);
  });

  it('call records are inserted and then updated by Call-ID; vCards and rooms are kept', async () => {
    const [s] = await openTwo(kind);
    await s.calls.saveAll([{ callId: 'c1', caller: 'alice', callee: 'bob', startedAt: 10, outcome: 'ringing', video: true }]);
    await s.calls.saveAll([{ callId: 'c1', caller: 'alice', callee: 'bob', startedAt: 10, answeredAt: 12, endedAt: 20, outcome: 'answered', video: true }]);
    expect(await s.calls.forUser('bob', 10)).toEqual([{ callId: 'c1', caller: 'alice', callee: 'bob', startedAt: 10, answeredAt: 12, endedAt: 20, outcome: 'answered', video: true }]);
    await s.vcards.put('alice', { vcard: '<vCard/>', photoHash: 'abc' });
    await s.vcards.put('alice', { vcard: '<vCard><FN>A</FN></vCard>' });
    expect(await s.vcards.get('alice')).toEqual({ vcard: '<vCard><FN>A</FN></vCard>', photoHash: undefined });
    await s.mucRooms.save({ jid: 'room@conference.x', config: '{}', affiliations: '{}' });
    await s.mucRooms.save({ jid: 'room@conference.x', config: '{"a":1}', affiliations: '{}', subject: '"hi"' });
    expect(await s.mucRooms.all()).toEqual([{ jid: 'room@conference.x', config: '{"a":1}', affiliations: '{}', subject: '"hi"' }]);
    await s.mucRooms.delete('room@conference.x');
    expect(await s.mucRooms.all()).toEqual([]);
  });

  it('a change on one gateway is announced to every gateway on the database', async () => {
    const [a, b] = await openTwo(kind);
    const heard: string[] = [];
    b.db.onChange((topic) => heard.push(topic));
    // PostgreSQL LISTENs on a connection of its own: give it a moment to be in place.
    for (let i = 0; i < 50 && kind === 'postgres'; i++) {
      await a.db.notify('ping');
      if (heard.includes('ping')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await a.rosters.put('judy', item('kim@x'));
    await a.rosters.modify([{ owner: 'kim', contact: 'judy@x' }], () => ({ writes: [item('judy@x')], result: undefined }));
    for (let i = 0; i < 100 && !heard.includes('roster:kim'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(heard).toContain('roster:judy');
    expect(heard).toContain('roster:kim');
  });
});
