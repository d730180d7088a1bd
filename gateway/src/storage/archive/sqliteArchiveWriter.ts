/**
 * The archive's writer thread: inserts batches of archived messages into archive.db, off the
 * main thread (at thousands of messages a second SQLite inserts would otherwise take a third
 * of the gateway's one event loop). Replies with the last row id it has committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface ArchiveRow {
  seq: number;
  owner: string;
  with: string;
  stamp: number;
  stanza: string;
}

export type ToWriter = { type: 'rows'; rows: ArchiveRow[] };
export type FromWriter = { type: 'committed'; upTo: number } | { type: 'error'; message: string; upTo: number };

if (parentPort) {
  const db = new Database((workerData as { file: string }).file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const insert = db.prepare('INSERT INTO archive (id, owner, with_jid, stamp, stanza) VALUES (?, ?, ?, ?, ?)');
  const writeAll = db.transaction((rows: ArchiveRow[]) => {
    for (const r of rows) insert.run(r.seq, r.owner, r.with, r.stamp, r.stanza);
  });
  const port = parentPort;
  port.on('message', (msg: ToWriter) => {
    const upTo = msg.rows.length ? msg.rows[msg.rows.length - 1].seq : 0;
    try {
      writeAll(msg.rows);
      port.postMessage({ type: 'committed', upTo } satisfies FromWriter);
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message, upTo } satisfies FromWriter);
    }
  });
}
