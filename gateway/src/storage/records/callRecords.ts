/** Call detail records: one row per call, written as the call goes on (keyed by its Call-ID). */
import type { CallOutcome } from '../../../../contracts/rest/calls.js';
import { asBoolean, type SqlDatabase } from '../sql/sqlDatabase.js';

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

export interface CallRecords {
  /** Inserts or updates the calls, in one transaction. */
  saveAll(records: CallRecord[]): Promise<void>;
  /** The user's latest calls, newest first. */
  forUser(username: string, limit: number): Promise<CallRecord[]>;
}

export class SqlCallRecords implements CallRecords {
  constructor(private readonly db: SqlDatabase) {}

  async saveAll(records: CallRecord[]): Promise<void> {
    if (!records.length) return;
    await this.db.transaction(async (tx) => {
      for (const r of records) {
        await tx.run(
          `INSERT INTO call_log (call_id, caller, callee, started_at, answered_at, ended_at, outcome, video)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (call_id) DO UPDATE SET answered_at = excluded.answered_at, ended_at = excluded.ended_at,
             outcome = excluded.outcome`,
          [r.callId, r.caller, r.callee, r.startedAt, r.answeredAt ?? null, r.endedAt ?? null, r.outcome, r.video],
        );
      }
    });
  }

  async forUser(username: string, limit: number): Promise<CallRecord[]> {
    const rows = await this.db.all<Record<string, number | string | boolean | null>>(
      `SELECT call_id, caller, callee, started_at, answered_at, ended_at, outcome, video FROM call_log
       WHERE caller = ? OR callee = ? ORDER BY started_at DESC LIMIT ?`,
      [username, username, limit],
    );
    return rows.map((row) => ({
      callId: String(row.call_id),
      caller: String(row.caller),
      callee: String(row.callee),
      startedAt: Number(row.started_at),
      answeredAt: row.answered_at == null ? undefined : Number(row.answered_at),
      endedAt: row.ended_at == null ? undefined : Number(row.ended_at),
      outcome: String(row.outcome) as CallOutcome,
      video: asBoolean(row.video),
    }));
  }
}
