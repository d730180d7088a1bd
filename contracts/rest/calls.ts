/** The signed-in user's call history: GET /api/calls?limit=… */
import { z } from 'zod';

export const callOutcome = z.enum(['ringing', 'answered', 'busy', 'declined', 'unreachable', 'cancelled', 'failed']);
export type CallOutcome = z.infer<typeof callOutcome>;

export const callLogEntry = z.object({
  callId: z.string(),
  /** User names of the two parties. */
  caller: z.string(),
  callee: z.string(),
  direction: z.enum(['outgoing', 'incoming']),
  /** The other party's user name. */
  peer: z.string(),
  /** The other party's display name, when they have an account here. */
  peerName: z.string().optional(),
  /** Epoch milliseconds. */
  startedAt: z.number(),
  answeredAt: z.number().optional(),
  endedAt: z.number().optional(),
  outcome: callOutcome,
  /** An incoming call that was never answered. */
  missed: z.boolean(),
  durationSeconds: z.number().optional(),
  video: z.boolean(),
});
export type CallLogEntry = z.infer<typeof callLogEntry>;

export const callHistoryResponse = z.object({ calls: z.array(callLogEntry) });
export type CallHistoryResponse = z.infer<typeof callHistoryResponse>;
