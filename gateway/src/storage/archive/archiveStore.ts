/**
 * The message archive (XEP-0313 MAM): one row per message per archive owner (each user, and
 * each group chat room). Writes are queued and committed in batches off the request path; the
 * promise `append` returns settles when the row is committed, so nothing is acknowledged to a
 * sender before its archive copy is safe. Queries first wait for what this gateway queued
 * before them, so a client always finds what it just sent.
 *
 * Two implementations: SQLite (its own file, batches written by a worker thread) and
 * PostgreSQL (batches written as one multi-row statement per transaction, several gateways
 * at once).
 */

export interface ArchivedMessage {
  /** The archive's order for this owner: strictly increasing in commit order. */
  seq: number;
  /** The stable id given to clients (XEP-0359 stanza-id, MAM result id). */
  id: string;
  owner: string;
  with: string;
  stamp: number;
  stanza: string;
}

export interface ArchiveQuery {
  owner: string;
  with?: string;
  start?: number;
  end?: number;
  /** Page before this id (empty string: the last page). */
  before?: string;
  after?: string;
  max: number;
}

export interface ArchivePage {
  messages: ArchivedMessage[];
  complete: boolean;
  count: number;
}

export interface ArchiveAddition {
  id: string;
  committed: Promise<void>;
}

export interface ArchiveStore {
  /**
   * Archives a message: allocates its id (unique, known before the row is written, so it can
   * go into the stanza that is delivered), queues the row `render(id)` and returns at once.
   * `committed` settles when the row is written (rejects if it could not be).
   */
  add(owner: string, withJid: string, render: (id: string) => string, stamp?: number): ArchiveAddition;
  /** Resolves once everything queued so far is committed (or has failed). */
  settled(): Promise<void>;
  query(q: ArchiveQuery): Promise<ArchivePage | 'item-not-found'>;
  /** Reports archive write failures (the gateway logs them). */
  onError: ((err: Error) => void) | undefined;
  close(): Promise<void>;
}

/** Rows committed together at most every this many ms… */
export const FLUSH_MS = 25;
/** …or sooner, when this many are waiting. */
export const FLUSH_ROWS = 2000;

/** A page of rows in archive order, cut to the query's size (shared by both stores). */
export function pageOf(rows: ArchivedMessage[], q: ArchiveQuery, count: number, newestFirst: boolean): ArchivePage {
  if (newestFirst) {
    // With "before" the rows come newest first; the extra row (if any) is the oldest one.
    const complete = rows.length <= q.max;
    return { messages: rows.slice(0, q.max).reverse(), complete, count };
  }
  return { messages: rows.slice(0, q.max), complete: rows.length <= q.max, count };
}
