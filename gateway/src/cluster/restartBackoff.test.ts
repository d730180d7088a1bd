import { describe, expect, it } from 'vitest';
import { MAX_RESTART_DELAY_MS, RESTART_DELAY_MS, restartBackoff, STABLE_AFTER_MS } from './restartBackoff.js';

describe('restarting a dead node or SFU', () => {
  it('is quick after a crash of a process that had been running, and backs off while it keeps dying at start', () => {
    let clock = 1_000_000;
    const b = restartBackoff(() => clock);
    b.started();
    clock += STABLE_AFTER_MS + 1; // ran fine for a while, then was killed
    expect(b.nextDelayMs()).toBe(RESTART_DELAY_MS);
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      b.started();
      clock += 100; // dies at once
      delays.push(b.nextDelayMs());
    }
    expect(delays.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect(Math.max(...delays)).toBe(MAX_RESTART_DELAY_MS);
    b.started();
    clock += STABLE_AFTER_MS; // this time it stayed up
    expect(b.nextDelayMs()).toBe(RESTART_DELAY_MS);
  });
});
