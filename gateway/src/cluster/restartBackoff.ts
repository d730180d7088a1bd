/**
 * When the launcher starts a dead process again: half a second after a crash, so users are
 * back at once; but a process that keeps dying soon after it starts (a port taken, a bad
 * setting) is started less and less often, up to 30 s apart, instead of flooding the log.
 */
export const RESTART_DELAY_MS = 500;
export const MAX_RESTART_DELAY_MS = 30_000;
/** Running this long counts as having started fine: the next restart is quick again. */
export const STABLE_AFTER_MS = 30_000;

export interface RestartBackoff {
  /** The process was (re)started now. */
  started(): void;
  /** It exited: how long to wait before starting it again. */
  nextDelayMs(): number;
}

export function restartBackoff(now: () => number = Date.now): RestartBackoff {
  let delay = RESTART_DELAY_MS;
  let startedAt = 0;
  return {
    started() {
      startedAt = now();
    },
    nextDelayMs() {
      if (now() - startedAt >= STABLE_AFTER_MS) delay = RESTART_DELAY_MS;
      const wait = delay;
      delay = Math.min(MAX_RESTART_DELAY_MS, delay * 2);
      return wait;
    },
  };
}
