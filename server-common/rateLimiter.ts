/** Per-key token buckets (requests per second with a burst), swept so idle keys cost nothing. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #burst: number;
  #lastSweep = Date.now();

  /** `perSecond` 0 disables the limit. */
  constructor(
    private readonly perSecond: number,
    burstSeconds = 2,
  ) {
    this.#burst = perSecond * burstSeconds;
  }

  take(key: string, now = Date.now()): boolean {
    if (this.perSecond <= 0) return true;
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (now - this.#lastSweep > 60_000) this.#sweep(now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [k, b] of this.#buckets) if (now - b.at > 60_000) this.#buckets.delete(k);
  }
}
