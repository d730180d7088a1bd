/**
 * The embedded SQLite database (better-sqlite3) under the data directory, with ordered,
 * idempotent schema migrations tracked in PRAGMA user_version.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Each entry moves the schema from version i to i+1; never edit a released entry, append. */
const MIGRATIONS: string[] = [
  `CREATE TABLE accounts (
     username      TEXT PRIMARY KEY,
     display_name  TEXT NOT NULL,
     realm         TEXT NOT NULL,
     password_hash TEXT NOT NULL,
     ha1_md5       TEXT NOT NULL,
     ha1_sha256    TEXT NOT NULL,
     scram_sha1    TEXT NOT NULL,
     scram_sha256  TEXT NOT NULL,
     created_at    INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE sessions (
     id_hash     TEXT PRIMARY KEY,
     username    TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
     created_at  INTEGER NOT NULL,
     expires_at  INTEGER NOT NULL,
     user_agent  TEXT
   ) WITHOUT ROWID;
   CREATE INDEX sessions_by_user ON sessions(username, expires_at);
   CREATE TABLE call_log (
     id           INTEGER PRIMARY KEY,
     call_id      TEXT NOT NULL,
     caller       TEXT NOT NULL,
     callee       TEXT NOT NULL,
     started_at   INTEGER NOT NULL,
     answered_at  INTEGER,
     ended_at     INTEGER,
     outcome      TEXT NOT NULL,
     video        INTEGER NOT NULL DEFAULT 0
   );
   CREATE UNIQUE INDEX call_log_by_call_id ON call_log(call_id);
   CREATE INDEX call_log_by_caller ON call_log(caller, started_at);
   CREATE INDEX call_log_by_callee ON call_log(callee, started_at);`,
  // XMPP: rosters, offline messages, vCards, group chat rooms, uploads (the archive has its own file).
  `CREATE TABLE roster (
     owner        TEXT NOT NULL,
     contact      TEXT NOT NULL,
     name         TEXT,
     subscription TEXT NOT NULL DEFAULT 'none',
     ask          INTEGER NOT NULL DEFAULT 0,
     pending_in   INTEGER NOT NULL DEFAULT 0,
     in_roster    INTEGER NOT NULL DEFAULT 1,
     groups       TEXT NOT NULL DEFAULT '[]',
     PRIMARY KEY (owner, contact)
   ) WITHOUT ROWID;
   CREATE INDEX roster_by_contact ON roster(contact);
   CREATE TABLE offline (
     id     INTEGER PRIMARY KEY,
     owner  TEXT NOT NULL,
     stanza TEXT NOT NULL,
     stamp  INTEGER NOT NULL
   );
   CREATE INDEX offline_by_owner ON offline(owner, id);
   CREATE TABLE vcards (
     owner      TEXT PRIMARY KEY,
     vcard      TEXT NOT NULL,
     photo_hash TEXT
   ) WITHOUT ROWID;
   CREATE TABLE muc_rooms (
     jid          TEXT PRIMARY KEY,
     config       TEXT NOT NULL,
     affiliations TEXT NOT NULL,
     subject      TEXT
   ) WITHOUT ROWID;
   CREATE TABLE uploads (
     id           TEXT PRIMARY KEY,
     owner        TEXT NOT NULL,
     filename     TEXT NOT NULL,
     content_type TEXT NOT NULL,
     size         INTEGER NOT NULL,
     created_at   INTEGER NOT NULL,
     complete     INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;`,
  // Conferences (meetings): who made each one, for guest links and "your meetings".
  `CREATE TABLE conferences (
     name       TEXT PRIMARY KEY,
     owner      TEXT NOT NULL,
     title      TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX conferences_by_owner ON conferences(owner, created_at);`,
];

/** The message archive (XEP-0313) lives in its own file: it is written by its own thread. */
export const ARCHIVE_MIGRATIONS: string[] = [
  `CREATE TABLE archive (
     id         INTEGER PRIMARY KEY,
     owner      TEXT NOT NULL,
     with_jid   TEXT NOT NULL,
     stamp      INTEGER NOT NULL,
     stanza     TEXT NOT NULL
   );
   CREATE INDEX archive_by_owner ON archive(owner, id);
   CREATE INDEX archive_by_with ON archive(owner, with_jid, id);`,
];

export function openDatabase(dataDir: string, file = 'parley.db', migrations = MIGRATIONS): Db {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(path.join(dataDir, file));
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

function migrate(db: Db, migrations: string[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(
      `The database schema (version ${current}) is newer than this Parley (version ${migrations.length}); upgrade Parley.`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * Calls `onChange` when another connection (the `parley` CLI) commits to the database,
 * so in-memory caches of accounts and sessions can be dropped. SQLite bumps
 * PRAGMA data_version exactly for commits made by other connections.
 */
export function watchExternalChanges(db: Db, onChange: () => void, intervalMs = 1000): () => void {
  let version = db.pragma('data_version', { simple: true }) as number;
  const timer = setInterval(() => {
    const now = db.pragma('data_version', { simple: true }) as number;
    if (now !== version) {
      version = now;
      onChange();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
