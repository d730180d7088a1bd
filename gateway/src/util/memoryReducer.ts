/**
 * Returns memory to the OS after a burst.
 *
 * V8 collects the old generation lazily: after a load spike (a REGISTER storm) garbage can
 * sit in the heap for minutes once traffic calms down, and RSS stays at the spike's size.
 * Every few seconds, when the heap has grown well past what the last full collection kept
 * alive, this runs a full collection. One with a small live heap costs a few milliseconds.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export interface MemoryReducerOptions {
  intervalMs?: number;
  /** Collect when heapUsed exceeds this many times the live size after the last collection. */
  growthFactor?: number;
  /** …and at least this many bytes. */
  minHeapBytes?: number;
}

export function startMemoryReducer(options: MemoryReducerOptions = {}): () => void {
  const { intervalMs = 5000, growthFactor = 2, minHeapBytes = 48 * 1024 * 1024 } = options;
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') return () => {};
  let liveAfterGc = process.memoryUsage().heapUsed;
  let lastGc = Date.now();
  const timer = setInterval(() => {
    const used = process.memoryUsage().heapUsed;
    if (used <= minHeapBytes) return;
    // Collect when the heap has grown well past the last live size, or — since what was live
    // then (lingering transactions) may be garbage now — at most every 30 s while it is large.
    if (used > liveAfterGc * growthFactor || Date.now() - lastGc > 30_000) {
      gc();
      liveAfterGc = process.memoryUsage().heapUsed;
      lastGc = Date.now();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
