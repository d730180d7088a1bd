/**
 * Call detail records and the set of calls in progress.
 *
 * The proxy reports each call's life (invited → answered/failed → ended); this module keeps
 * who is in a call right now (for "in a call" presence) and writes one row per call to
 * SQLite. Writes are batched into one transaction per event-loop turn so a burst of calls
 * costs one commit, not hundreds.
 */
import type { CallLogEntry, CallOutcome } from '../../../contracts/rest/calls.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';
import type { Db } from '../storage/database.js';

export interface CallRecord {
  callId: string;
  caller: string;
  callee: string;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
  outcome: CallOutcome;
  video: boolean;
}

interface ActiveCall {
  record: CallRecord;
  flows: string[];
}

export interface CallLogEvents {
  /** A user's number of answered, ongoing calls went from 0 to 1 (true) or back to 0 (false). */
  inCallChanged: [username: string, inCall: boolean];
}

/** Rows are written in one transaction per this interval (reads flush first, so nothing is missed). */
const FLUSH_DELAY_MS = 100;

export function outcomeForStatus(status: number): CallOutcome {
  if (status >= 200 && status < 300) return 'answered';
  if (status === 486 || status === 600) return 'busy';
  if (status === 603) return 'declined';
  if (status === 487) return 'cancelled';
  if (status === 404 || status === 408 || status === 410 || status === 480 || status === 430) return 'unreachable';
  return 'failed';
}

export class CallLog extends TypedEmitter<CallLogEvents> {
  readonly #pending = new Map<string, CallRecord>();
  readonly #active = new Map<string, ActiveCall>();
  readonly #activeCount = new Map<string, number>();
  readonly #dirty = new Map<string, CallRecord>();
  #flushScheduled = false;
  readonly #stmts;
  readonly #db: Db;

  constructor(db: Db) {
    super();
    this.#db = db;
    this.#stmts = {
      upsert: db.prepare(
        `INSERT INTO call_log (call_id, caller, callee, started_at, answered_at, ended_at, outcome, video)
         VALUES (@callId, @caller, @callee, @startedAt, @answeredAt, @endedAt, @outcome, @video)
         ON CONFLICT(call_id) DO UPDATE SET answered_at = excluded.answered_at, ended_at = excluded.ended_at,
           outcome = excluded.outcome`,
      ),
      forUser: db.prepare<[string, string, number], Record<string, number | string | null>>(
        `SELECT call_id, caller, callee, started_at, answered_at, ended_at, outcome, video FROM call_log
         WHERE caller = ? OR callee = ? ORDER BY started_at DESC LIMIT ?`,
      ),
    };
  }

  invited(callId: string, caller: string, callee: string, video: boolean): void {
    if (this.#pending.has(callId) || this.#active.has(callId)) return;
    const record: CallRecord = { callId, caller, callee, startedAt: Date.now(), outcome: 'ringing', video };
    this.#pending.set(callId, record);
    this.#write(record);
  }

  /** First final response of the initial INVITE. `flows` are the two flows of the dialog. */
  finalResponse(callId: string, status: number, flows: string[]): void {
    const record = this.#pending.get(callId);
    if (!record) return;
    this.#pending.delete(callId);
    record.outcome = outcomeForStatus(status);
    if (record.outcome === 'answered') {
      record.answeredAt = Date.now();
      this.#active.set(callId, { record, flows });
      this.#bump(record.caller, 1);
      this.#bump(record.callee, 1);
    } else {
      record.endedAt = Date.now();
    }
    this.#write(record);
  }

  ended(callId: string): void {
    const active = this.#active.get(callId);
    if (!active) return;
    this.#active.delete(callId);
    active.record.endedAt = Date.now();
    this.#write(active.record);
    this.#bump(active.record.caller, -1);
    this.#bump(active.record.callee, -1);
  }

  /** A connection closed: calls that depended on it are over (a crashed browser sends no BYE). */
  flowClosed(flowId: string): void {
    for (const [callId, call] of this.#active) if (call.flows.includes(flowId)) this.ended(callId);
  }

  isInCall(username: string): boolean {
    return (this.#activeCount.get(username) ?? 0) > 0;
  }

  get activeCalls(): number {
    return this.#active.size;
  }

  history(username: string, limit = 50): CallLogEntry[] {
    this.flush();
    return this.#stmts.forUser.all(username, username, limit).map((row) => {
      const record: CallRecord = {
        callId: String(row.call_id),
        caller: String(row.caller),
        callee: String(row.callee),
        startedAt: Number(row.started_at),
        answeredAt: row.answered_at == null ? undefined : Number(row.answered_at),
        endedAt: row.ended_at == null ? undefined : Number(row.ended_at),
        outcome: String(row.outcome) as CallOutcome,
        video: Boolean(row.video),
      };
      const direction = record.caller === username ? 'outgoing' : 'incoming';
      return {
        ...record,
        direction,
        peer: direction === 'outgoing' ? record.callee : record.caller,
        missed: direction === 'incoming' && record.outcome !== 'answered' && record.outcome !== 'ringing',
        durationSeconds:
          record.answeredAt && record.endedAt ? Math.round((record.endedAt - record.answeredAt) / 1000) : undefined,
      };
    });
  }

  /** Writes queued rows now (also called before reads and at shutdown). */
  flush(): void {
    if (!this.#dirty.size) return;
    const rows = [...this.#dirty.values()];
    this.#dirty.clear();
    this.#db.transaction(() => {
      for (const r of rows) {
        this.#stmts.upsert.run({
          callId: r.callId,
          caller: r.caller,
          callee: r.callee,
          startedAt: r.startedAt,
          answeredAt: r.answeredAt ?? null,
          endedAt: r.endedAt ?? null,
          outcome: r.outcome,
          video: r.video ? 1 : 0,
        });
      }
    })();
  }

  #write(record: CallRecord): void {
    this.#dirty.set(record.callId, record);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setTimeout(() => {
        this.#flushScheduled = false;
        this.flush();
      }, FLUSH_DELAY_MS).unref();
    }
  }

  #bump(username: string, delta: number): void {
    const before = this.#activeCount.get(username) ?? 0;
    const after = Math.max(0, before + delta);
    if (after) this.#activeCount.set(username, after);
    else this.#activeCount.delete(username);
    if ((before > 0) !== (after > 0)) this.emit('inCallChanged', username, after > 0);
  }
}
