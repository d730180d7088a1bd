/**
 * Call detail records and the set of calls in progress.
 *
 * The proxy reports each call's life (invited → answered/failed → ended); this module keeps
 * who is in a call right now (for "in a call" presence) and writes one row per call to the
 * call records (SQLite or PostgreSQL). Writes are batched into one transaction per interval so
 * a burst of calls costs one commit, not hundreds.
 */
import type { CallLogEntry, CallOutcome } from '../../../contracts/rest/calls.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';
import type { Logger } from '../../../server-common/logger.js';
import type { CallRecord, CallRecords } from '../storage/records/callRecords.js';

export type { CallRecord } from '../storage/records/callRecords.js';

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
  /** The write in progress; reads and shutdown wait for it. */
  #flushing: Promise<void> = Promise.resolve();
  readonly #records: CallRecords;
  readonly #logger: Logger | undefined;

  constructor(records: CallRecords, logger?: Logger) {
    super();
    this.#records = records;
    this.#logger = logger;
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

  async history(username: string, limit = 50): Promise<CallLogEntry[]> {
    await this.flush();
    return (await this.#records.forUser(username, limit)).map((record) => {
      const direction = record.caller === username ? 'outgoing' : 'incoming';
      return {
        ...record,
        direction,
        peer: direction === 'outgoing' ? record.callee : record.caller,
        // Declined is the callee's own answer, not a call they missed.
        missed: direction === 'incoming' && record.outcome !== 'answered' && record.outcome !== 'ringing' && record.outcome !== 'declined',
        durationSeconds:
          record.answeredAt && record.endedAt ? Math.round((record.endedAt - record.answeredAt) / 1000) : undefined,
      };
    });
  }

  /** Writes queued rows now (also called before reads and at shutdown). */
  flush(): Promise<void> {
    if (this.#dirty.size) {
      const rows = [...this.#dirty.values()].map((r) => ({ ...r }));
      this.#dirty.clear();
      this.#flushing = this.#flushing.then(() =>
        this.#records.saveAll(rows).catch((err: unknown) => {
          // A record is not worth a crash; the call itself is unaffected.
          this.#logger?.error({ err, calls: rows.length }, 'could not write call records');
        }),
      );
    }
    return this.#flushing;
  }

  #write(record: CallRecord): void {
    this.#dirty.set(record.callId, record);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setTimeout(() => {
        this.#flushScheduled = false;
        void this.flush();
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
