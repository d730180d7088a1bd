/**
 * What the server acknowledges is stored: a client's message counts in the server's XEP-0198
 * `<a h/>` only once its archive row is committed. The archive's write is held up here by a
 * row lock another PostgreSQL session takes; the message is delivered meanwhile, the ack waits
 * for the commit.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../../../../server-common/test-support/postgresDatabase.js';
import { RawXmpp } from '../../../test-support/rawXmpp.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, type TestXmpp } from '../../../test-support/xmppClient.js';

let gw: TestGateway;
let databaseUrl: string;
let bob: TestXmpp;

beforeAll(async () => {
  databaseUrl = await freshPostgresDatabase('ack');
  gw = await startTestGateway({ DATABASE_URL: databaseUrl });
  await gw.addUser('alice');
  await gw.addUser('bob');
  const item = (contact: string) => ({ contact, subscription: 'both' as const, ask: false, pendingIn: false, inRoster: true, groups: [] });
  await gw.gateway.storage.rosters.put('alice', item('bob@localhost'));
  await gw.gateway.storage.rosters.put('bob', item('alice@localhost'));
  bob = await connect(gw, 'bob', TEST_PASSWORD, { resource: 'desk' });
});

afterAll(async () => {
  await bob?.stop();
  await gw?.stop();
});

async function streamManagedAlice(): Promise<RawXmpp> {
  const c = await RawXmpp.open(gw.xmppPort);
  c.openStream();
  await c.waitFor(/<\/stream:features>/);
  expect(await c.scram('sha256', 'alice', TEST_PASSWORD)).toBe('success');
  let mark = c.received.length;
  c.openStream();
  await c.waitFor(/<\/stream:features>/, 5000, mark);
  mark = c.received.length;
  c.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>`);
  await c.waitFor(/<jid>/, 5000, mark);
  mark = c.received.length;
  c.write(`<enable xmlns='urn:xmpp:sm:3'/>`);
  await c.waitFor(/<enabled/, 5000, mark);
  c.write(`<presence/>`);
  return c;
}

async function ackedCount(c: RawXmpp): Promise<number> {
  const mark = c.received.length;
  c.write(`<r xmlns='urn:xmpp:sm:3'/>`);
  return Number((await c.waitFor(/<a xmlns=['"]urn:xmpp:sm:3['"] h=['"](\d+)['"]/, 5000, mark))[1]);
}

describe('acknowledgements (XEP-0198) and the archive', () => {
  it('acknowledge a message only once its archive rows are committed', async () => {
    const alice = await streamManagedAlice();
    const before = await ackedCount(alice); // the presence

    // Another session holds the archive heads of both owners: archive batches wait for it.
    const blocker = new pg.Client({ connectionString: databaseUrl });
    await blocker.connect();
    try {
      await blocker.query(`INSERT INTO archive_heads (owner, last_seq) VALUES ('alice', 0), ('bob', 0) ON CONFLICT DO NOTHING`);
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM archive_heads WHERE owner IN ('alice', 'bob') FOR UPDATE`);

      const mark = alice.received.length;
      alice.write(`<message to='bob@localhost' type='chat' id='m1'><body>kept before acknowledged</body></message><r xmlns='urn:xmpp:sm:3'/>`);
      // Delivered at once…
      await bob.waitFor((s) => s.getChildText('body') === 'kept before acknowledged');
      // …but not acknowledged while its archive row cannot be written.
      await new Promise((r) => setTimeout(r, 1000));
      expect(alice.received.slice(mark)).not.toMatch(/<a xmlns=/);
      const rows = await blocker.query(`SELECT count(*)::int AS n FROM archive WHERE owner = 'alice'`);
      expect(rows.rows[0].n).toBe(0);

      await blocker.query('COMMIT');
      const [, h] = await alice.waitFor(/<a xmlns=['"]urn:xmpp:sm:3['"] h=['"](\d+)['"]/, 5000, mark);
      expect(Number(h)).toBe(before + 1);
      const stored = await blocker.query(`SELECT owner FROM archive WHERE stanza LIKE '%kept before acknowledged%' ORDER BY owner`);
      expect(stored.rows.map((r: { owner: string }) => r.owner)).toEqual(['alice', 'bob']);
    } finally {
      await blocker.end();
      alice.destroy();
    }
  });
});
