/**
 * `parley db copy`: moves an installation's records from its SQLite files to PostgreSQL.
 * Every table is copied in batches with `ON CONFLICT DO NOTHING`, so a copy that stopped half
 * way is simply run again; afterwards every source row's key is looked up in the target and
 * the counts are compared, and the copy fails loudly if anything is missing.
 *
 * Run it with the SQLite installation stopped and before gateways start on the target: the
 * archive keeps its order by carrying the SQLite row ids over as each owner's sequence.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../../server-common/logger.js';
import { toArchiveId } from '../archive/sqliteArchiveStore.js';
import { migrate } from '../migrations/migrator.js';
import { SqlSecretRecords } from '../records/secretRecords.js';
import { PostgresDatabase } from '../sql/postgresDatabase.js';
import { SqliteDatabase } from '../sql/sqliteDatabase.js';
import type { SqlValue } from '../sql/sqlDatabase.js';

/** The main database's tables in an order that satisfies their foreign keys, with their keys. */
const TABLES: ReadonlyArray<{ name: string; key: readonly string[]; identity?: string }> = [
  { name: 'accounts', key: ['username'] },
  { name: 'sessions', key: ['id_hash'] },
  { name: 'call_log', key: ['call_id'], identity: 'id' },
  { name: 'roster', key: ['owner', 'contact'] },
  { name: 'offline', key: ['id'], identity: 'id' },
  { name: 'vcards', key: ['owner'] },
  { name: 'muc_rooms', key: ['jid'] },
  { name: 'uploads', key: ['id'] },
  { name: 'conferences', key: ['name'] },
  { name: 'secrets', key: ['name'] },
  { name: 'embed_keys', key: ['id'] },
  { name: 'external_identities', key: ['provider', 'subject'] },
  { name: 'app_passwords', key: ['id'] },
  { name: 'saml_requests', key: ['id'] },
];

const BATCH = 500;

export interface TableCopy {
  table: string;
  source: number;
  /** Rows this run inserted (a re-run inserts only what is missing). */
  inserted: number;
  /** Source rows whose key is in the target after the copy (must equal `source`). */
  present: number;
}

export interface CopyResult {
  tables: TableCopy[];
  /** Secret-file content moved into the target's secrets (older installations). */
  secretFromFile: boolean;
  /** The target already had a different server secret: links signed by the old one stop working. */
  secretMismatch: boolean;
}

export class CopyError extends Error {}

export async function copySqliteToPostgres(options: {
  fromDir: string;
  toUrl: string;
  logger: Logger;
  onProgress?: (table: string, done: number, total: number) => void;
}): Promise<CopyResult> {
  const main = path.join(options.fromDir, 'parley.db');
  if (!fs.existsSync(main)) throw new CopyError(`There is no Parley database at ${main}: give the data directory (PARLEY_DATA) of the installation to copy.`);
  const source = new SqliteDatabase({ dir: options.fromDir, file: 'parley.db' });
  let archive: SqliteDatabase | undefined;
  let target: PostgresDatabase | undefined;
  try {
    // The source is brought to this Parley's schema first (as starting it would).
    await migrate(source, 'main');
    const archiveFile = path.join(options.fromDir, 'archive.db');
    if (fs.existsSync(archiveFile)) {
      archive = new SqliteDatabase({ dir: options.fromDir, file: 'archive.db' });
      await migrate(archive, 'archive');
    }
    target = await PostgresDatabase.connect({ url: options.toUrl, poolSize: 4, logger: options.logger });
    await migrate(target, 'main');
    await migrate(target, 'archive');

    const tables: TableCopy[] = [];
    for (const t of TABLES) tables.push(await copyTable(source, target, t, options.onProgress));
    if (archive) tables.push(await copyArchive(archive, target, options.onProgress));

    // Older installations kept the server secret in a file; guest links and embed keys were signed with it.
    let secretFromFile = false;
    let secretMismatch = false;
    const file = path.join(options.fromDir, 'secret.key');
    const fromSource = (await source.get<{ value: string }>("SELECT value FROM secrets WHERE name = 'server'"))?.value;
    const wanted = fromSource ?? (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined);
    if (wanted) {
      const kept = await new SqlSecretRecords(target).getOrCreate('server', wanted);
      secretFromFile = !fromSource;
      secretMismatch = kept !== wanted;
    }

    const missing = tables.filter((t) => t.present !== t.source);
    if (missing.length) {
      throw new CopyError(`The copy is incomplete: ${missing.map((t) => `${t.table} ${t.present} of ${t.source}`).join(', ')}. Run it again.`);
    }
    return { tables, secretFromFile, secretMismatch };
  } finally {
    await source.close();
    await archive?.close();
    await target?.close();
  }
}

async function copyTable(
  source: SqliteDatabase,
  target: PostgresDatabase,
  table: { name: string; key: readonly string[]; identity?: string },
  onProgress: ((table: string, done: number, total: number) => void) | undefined,
): Promise<TableCopy> {
  const sourceColumns = (await source.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table.name}')`)).map((c) => c.name);
  const targetTypes = new Map(
    (
      await target.all<{ column_name: string; data_type: string }>(
        'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()',
        [table.name],
      )
    ).map((c) => [c.column_name, c.data_type]),
  );
  const columns = sourceColumns.filter((c) => targetTypes.has(c));
  const total = Number((await source.get<{ n: number }>(`SELECT count(*) AS n FROM ${table.name}`))?.n ?? 0);
  let inserted = 0;
  let present = 0;
  let done = 0;
  // Paged by rowid-free ordering on the key, so memory stays flat however big the table is.
  const order = table.key.join(', ');
  for (let offset = 0; offset < total; offset += BATCH) {
    const rows = await source.all(`SELECT ${columns.join(', ')} FROM ${table.name} ORDER BY ${order} LIMIT ? OFFSET ?`, [BATCH, offset]);
    if (!rows.length) break;
    const values: SqlValue[] = [];
    const tuples: string[] = [];
    for (const row of rows) {
      tuples.push(`(${columns.map(() => '?').join(', ')})`);
      for (const c of columns) values.push(convert(row[c], targetTypes.get(c)!));
    }
    inserted += await target.run(`INSERT INTO ${table.name} (${columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`, values);
    present += await countPresent(target, table.name, table.key, rows.map((r) => table.key.map((k) => r[k] as SqlValue)));
    done += rows.length;
    onProgress?.(table.name, done, total);
  }
  if (table.identity) {
    // New rows on PostgreSQL must not take the ids the copied rows brought along.
    await target.run(
      `SELECT setval(pg_get_serial_sequence('${table.name}', '${table.identity}'), greatest((SELECT coalesce(max(${table.identity}), 0) FROM ${table.name}), 1))`,
    );
  }
  return { table: table.name, source: total, inserted, present };
}

async function copyArchive(
  source: SqliteDatabase,
  target: PostgresDatabase,
  onProgress: ((table: string, done: number, total: number) => void) | undefined,
): Promise<TableCopy> {
  const total = Number((await source.get<{ n: number }>('SELECT count(*) AS n FROM archive'))?.n ?? 0);
  let inserted = 0;
  let present = 0;
  let after = 0;
  let done = 0;
  for (;;) {
    const rows = await source.all<{ id: number; owner: string; with_jid: string; stamp: number; stanza: string }>(
      'SELECT id, owner, with_jid, stamp, stanza FROM archive WHERE id > ? ORDER BY id LIMIT ?',
      [after, BATCH],
    );
    if (!rows.length) break;
    after = rows[rows.length - 1].id;
    const values: SqlValue[] = [];
    const tuples: string[] = [];
    for (const r of rows) {
      tuples.push('(?, ?, ?, ?, ?, ?)');
      // The SQLite row id is the order (one writer) and, in base 36, the id clients were given.
      values.push(r.owner, r.id, toArchiveId(r.id), r.with_jid, r.stamp, r.stanza);
    }
    inserted += await target.run(`INSERT INTO archive (owner, seq, stanza_id, with_jid, stamp, stanza) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`, values);
    present += await countPresent(target, 'archive', ['owner', 'stanza_id'], rows.map((r) => [r.owner, toArchiveId(r.id)]));
    done += rows.length;
    onProgress?.('archive', done, total);
  }
  // Each owner's next message continues after the copied ones.
  await target.run(
    `INSERT INTO archive_heads (owner, last_seq) SELECT owner, max(seq) FROM archive GROUP BY owner
     ON CONFLICT (owner) DO UPDATE SET last_seq = greatest(archive_heads.last_seq, excluded.last_seq)`,
  );
  return { table: 'archive', source: total, inserted, present };
}

/** How many of these keys the target table holds. */
async function countPresent(target: PostgresDatabase, table: string, key: readonly string[], keys: SqlValue[][]): Promise<number> {
  if (!keys.length) return 0;
  const tuples = keys.map(() => `(${key.map(() => '?').join(', ')})`).join(', ');
  const row = await target.get<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE (${key.join(', ')}) IN (${tuples})`, keys.flat());
  return Number(row?.n ?? 0);
}

function convert(value: unknown, type: string): SqlValue {
  if (value === null || value === undefined) return null;
  if (type === 'boolean') return value === 1 || value === true || value === '1';
  return value as SqlValue;
}
