/**
 * Applies the numbered migrations of a scope, all pending ones in one transaction: either the
 * schema reaches the latest version or nothing changes. Refuses — with a message that says what
 * to do — a database newer than this Parley, or one where an applied migration's text differs
 * from ours (someone edited a released migration, or the database belongs to another fork).
 * Applied versions are recorded in `parley_schema` with a checksum of their text. On
 * PostgreSQL an advisory lock makes gateways that start together migrate one after another.
 */
import crypto from 'node:crypto';
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase.js';
import { MIGRATIONS, type Migration, type MigrationScope } from './migrations.js';

export class MigrationError extends Error {}

export interface MigrationResult {
  scope: MigrationScope;
  from: number;
  to: number;
  applied: Array<{ version: number; name: string }>;
}

/** Key of the advisory lock gateways take while migrating ("parl"). */
const LOCK_KEY = 0x7061726c;

const SCHEMA_TABLE = {
  sqlite: `CREATE TABLE IF NOT EXISTS parley_schema (
     scope      TEXT NOT NULL,
     version    INTEGER NOT NULL,
     name       TEXT NOT NULL,
     checksum   TEXT NOT NULL,
     applied_at INTEGER NOT NULL,
     PRIMARY KEY (scope, version)
   )`,
  postgres: `CREATE TABLE IF NOT EXISTS parley_schema (
     scope      TEXT NOT NULL,
     version    INTEGER NOT NULL,
     name       TEXT NOT NULL,
     checksum   TEXT NOT NULL,
     applied_at BIGINT NOT NULL,
     PRIMARY KEY (scope, version)
   )`,
};

export function checksum(m: Migration, dialect: SqlDatabase['dialect']): string {
  return crypto.createHash('sha256').update(m[dialect].replace(/\s+/g, ' ').trim()).digest('hex').slice(0, 16);
}

/** The scope's version and what is still to apply, without changing anything. */
export async function schemaStatus(
  db: SqlDatabase,
  scope: MigrationScope,
  migrations: readonly Migration[] = MIGRATIONS[scope],
): Promise<{ current: number; latest: number; pending: Migration[] }> {
  const exists =
    db.dialect === 'sqlite'
      ? await db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'parley_schema'")
      : await db.get("SELECT 1 AS x FROM information_schema.tables WHERE table_name = 'parley_schema' AND table_schema = current_schema()");
  let current = 0;
  if (exists) current = Number((await db.get<{ v: number | null }>('SELECT max(version) AS v FROM parley_schema WHERE scope = ?', [scope]))?.v ?? 0);
  if (!current && db.dialect === 'sqlite') current = await userVersion(db);
  return { current, latest: migrations.length, pending: migrations.filter((m) => m.version > current) };
}

export async function migrate(
  db: SqlDatabase,
  scope: MigrationScope,
  migrations: readonly Migration[] = MIGRATIONS[scope],
): Promise<MigrationResult> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${scope} ${m.version} is out of order`);
  });
  const latest = migrations.length;
  let from = 0;
  const applied: MigrationResult['applied'] = [];
  try {
    await db.transaction(async (tx) => {
      applied.length = 0;
      if (db.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(?) AS locked', [LOCK_KEY]);
      await tx.exec(SCHEMA_TABLE[db.dialect]);
      const rows = await tx.all<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM parley_schema WHERE scope = ? ORDER BY version',
        [scope],
      );
      if (!rows.length && db.dialect === 'sqlite') {
        // A database from before parley_schema: PRAGMA user_version said how far it was.
        const adopted = await userVersion(tx);
        for (const m of migrations.slice(0, adopted)) await record(tx, scope, m, db.dialect);
        rows.push(...migrations.slice(0, adopted).map((m) => ({ version: m.version, name: m.name, checksum: checksum(m, db.dialect) })));
      }
      from = rows.length ? rows[rows.length - 1].version : 0;
      if (from > latest) {
        throw new MigrationError(
          `The database's ${scope} schema is at version ${from}, newer than this Parley knows (${latest}): it was upgraded by a newer Parley. Run that version, or upgrade this one.`,
        );
      }
      for (const row of rows) {
        const m = migrations[row.version - 1];
        if (!m || row.version !== rows.indexOf(row) + 1) {
          throw new MigrationError(`The database's ${scope} schema records migration ${row.version} out of sequence; it was not made by this Parley.`);
        }
        if (row.checksum !== checksum(m, db.dialect)) {
          throw new MigrationError(
            `Migration ${scope} ${row.version} ("${row.name}") applied to this database differs from this Parley's; the database was made by another version or fork. Nothing was changed.`,
          );
        }
      }
      for (const m of migrations.slice(from)) {
        try {
          await tx.exec(m[db.dialect]);
        } catch (err) {
          throw new MigrationError(
            `Migration ${scope} ${m.version} ("${m.name}") failed: ${(err as Error).message}. Nothing was changed: the ${scope} schema stays at version ${from}.`,
          );
        }
        await record(tx, scope, m, db.dialect);
        applied.push({ version: m.version, name: m.name });
      }
      // Older Parleys read PRAGMA user_version: keep it, so they refuse a schema newer than theirs.
      if (db.dialect === 'sqlite' && applied.length) await tx.exec(`PRAGMA user_version = ${latest}`);
    });
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw new MigrationError(`Could not bring the ${scope} schema up to date: ${(err as Error).message}. Nothing was changed.`);
  }
  return { scope, from, to: from + applied.length, applied };
}

async function record(tx: SqlExecutor, scope: MigrationScope, m: Migration, dialect: SqlDatabase['dialect']): Promise<void> {
  await tx.run('INSERT INTO parley_schema (scope, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)', [
    scope,
    m.version,
    m.name,
    checksum(m, dialect),
    Date.now(),
  ]);
}

/** SQLite's PRAGMA user_version, which said how far a database was before parley_schema. */
async function userVersion(on: SqlExecutor): Promise<number> {
  return Number((await on.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0);
}
