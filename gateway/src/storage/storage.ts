/**
 * The storage layer: every durable record, one set of records per aggregate, on SQLite (the
 * default: files in the data directory, nothing to install) or PostgreSQL (`DATABASE_URL`,
 * shared by several gateways). Opening it brings the schema up to date (migrations.ts) or
 * stops with the reason.
 *
 * Live state with expiry (SIP bindings, which node holds which session) is not here: it is
 * Redis's (REDIS_URL) or the process's own.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../server-common/logger.js';
import type { ArchiveStore } from './archive/archiveStore.js';
import { PostgresArchiveStore } from './archive/postgresArchiveStore.js';
import { SqliteArchiveStore } from './archive/sqliteArchiveStore.js';
import { migrate, type MigrationResult } from './migrations/migrator.js';
import { SqlAccountRecords, type AccountRecords } from './records/accountRecords.js';
import { SqlAppPasswordRecords, type AppPasswordRecords } from './records/appPasswordRecords.js';
import { SqlCallRecords, type CallRecords } from './records/callRecords.js';
import { SqlConferenceRecords, type ConferenceRecords } from './records/conferenceRecords.js';
import { SqlEmbedKeyRecords, type EmbedKeyRecords } from './records/embedKeyRecords.js';
import { SqlIdentityRecords, type IdentityRecords } from './records/identityRecords.js';
import { SqlMucRoomRecords, type MucRoomRecords } from './records/mucRoomRecords.js';
import { SqlOfflineRecords, type OfflineRecords } from './records/offlineRecords.js';
import { SqlSamlRequestRecords, type SamlRequestRecords } from './records/samlRequestRecords.js';
import { SqlRosterRecords, type RosterRecords } from './records/rosterRecords.js';
import { SqlSecretRecords, type SecretRecords } from './records/secretRecords.js';
import { SqlSessionRecords, type SessionRecords } from './records/sessionRecords.js';
import { SqlUploadRecords, type UploadRecords } from './records/uploadRecords.js';
import { SqlVCardRecords, type VCardRecords } from './records/vcardRecords.js';
import type { PostgresDatabase } from './sql/postgresDatabase.js';
import type { SqlDatabase } from './sql/sqlDatabase.js';
import { SqliteDatabase } from './sql/sqliteDatabase.js';

export interface StorageOptions {
  /** postgres://…; SQLite in `dataDir` when unset. */
  databaseUrl?: string;
  poolSize?: number;
  dataDir: string;
  logger: Logger;
  /** SQLite: how often to look for the CLI's changes (ms); 0 to not look. */
  watchMs?: number;
  /** SQLite: write the archive on a worker thread (default true). */
  archiveThread?: boolean;
}

export class Storage {
  readonly db: SqlDatabase;
  readonly accounts: AccountRecords;
  readonly sessions: SessionRecords;
  readonly rosters: RosterRecords;
  readonly offline: OfflineRecords;
  readonly archive: ArchiveStore;
  readonly mucRooms: MucRoomRecords;
  readonly vcards: VCardRecords;
  readonly uploads: UploadRecords;
  readonly calls: CallRecords;
  readonly conferences: ConferenceRecords;
  readonly embedKeys: EmbedKeyRecords;
  readonly secrets: SecretRecords;
  readonly appPasswords: AppPasswordRecords;
  readonly identities: IdentityRecords;
  readonly samlRequests: SamlRequestRecords;
  /** What opening applied, for the start-up log. */
  readonly migrations: MigrationResult[];

  private constructor(db: SqlDatabase, archive: ArchiveStore, migrations: MigrationResult[]) {
    this.db = db;
    this.archive = archive;
    this.migrations = migrations;
    this.accounts = new SqlAccountRecords(db);
    this.sessions = new SqlSessionRecords(db);
    this.rosters = new SqlRosterRecords(db);
    this.offline = new SqlOfflineRecords(db);
    this.mucRooms = new SqlMucRoomRecords(db);
    this.vcards = new SqlVCardRecords(db);
    this.uploads = new SqlUploadRecords(db);
    this.calls = new SqlCallRecords(db);
    this.conferences = new SqlConferenceRecords(db);
    this.embedKeys = new SqlEmbedKeyRecords(db);
    this.secrets = new SqlSecretRecords(db);
    this.appPasswords = new SqlAppPasswordRecords(db);
    this.identities = new SqlIdentityRecords(db);
    this.samlRequests = new SqlSamlRequestRecords(db);
  }

  get kind(): 'sqlite' | 'postgres' {
    return this.db.dialect;
  }

  /** Where the records are, for messages (the password of a URL hidden). */
  get description(): string {
    return this.db.dialect === 'postgres' ? `PostgreSQL ${(this.db as PostgresDatabase).displayUrl}` : `SQLite ${(this.db as SqliteDatabase).file}`;
  }

  /** Opens the database (and the archive), bringing both schemas up to date. */
  static async open(options: StorageOptions): Promise<Storage> {
    const db = await openDatabase(options);
    let archive: ArchiveStore | undefined;
    try {
      const results = [await migrate(db, 'main')];
      if (db.dialect === 'postgres') {
        results.push(await migrate(db, 'archive'));
        archive = await PostgresArchiveStore.open(db, options.logger);
      } else {
        const sqliteArchive = await SqliteArchiveStore.open(options.dataDir, { thread: options.archiveThread });
        results.push(sqliteArchive.migration);
        archive = sqliteArchive;
      }
      return new Storage(db, archive, results);
    } catch (err) {
      await archive?.close().catch(() => undefined);
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The server secret every gateway on this database shares: PARLEY_SECRET when set; else the
   * stored one — on first start the secret file of an older installation, or a new random one.
   */
  serverSecret(configured: string | undefined, dataDir: string): Promise<Buffer> {
    return serverSecret(this.secrets, configured, dataDir);
  }

  async close(): Promise<void> {
    await this.archive.close();
    await this.db.close();
  }
}

/** The main database alone, not migrated (the CLI's status check, and what Storage.open builds on). */
export async function openDatabase(options: Pick<StorageOptions, 'databaseUrl' | 'poolSize' | 'dataDir' | 'logger' | 'watchMs'>): Promise<SqlDatabase> {
  if (options.databaseUrl) {
    // Loaded only then: a single-machine installation does not hold the PostgreSQL client.
    const { PostgresDatabase } = await import('./sql/postgresDatabase.js');
    return PostgresDatabase.connect({ url: options.databaseUrl, poolSize: options.poolSize ?? 10, logger: options.logger });
  }
  return new SqliteDatabase({ dir: options.dataDir, file: 'parley.db', watchMs: options.watchMs ?? 1000 });
}

/**
 * PARLEY_SECRET when set; else the stored server secret — on first use the secret file of an
 * older installation (`secret.key` in the data directory), or a new random one.
 */
export async function serverSecret(secrets: SecretRecords, configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  let candidate = crypto.randomBytes(32).toString('base64');
  try {
    candidate = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim() || candidate;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return Buffer.from(await secrets.getOrCreate('server', candidate), 'base64');
}
