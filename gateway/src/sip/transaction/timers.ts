/** RFC 3261 §17 timer values (Table 4), in milliseconds. */
export interface TimerValues {
  /** RTT estimate. */
  T1: number;
  /** Longest retransmit interval for non-INVITE requests and INVITE responses. */
  T2: number;
  /** Longest time a message stays in the network. */
  T4: number;
}

export const DEFAULT_TIMERS: TimerValues = { T1: 500, T2: 4000, T4: 5000 };
