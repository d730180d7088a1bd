/**
 * Slows password guessing: after PARLEY_LOGIN_MAX_FAILURES failed sign-ins for one account
 * from one address (or, when `perAddressFactor` > 0, that many times more for one address
 * overall), further attempts are refused until the window has passed.
 */

/** What a throttle hears: a wrong password, or a sign-in that worked. */
export type ThrottleEvent = 'fail' | 'succeed';

export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  /** Told of every failure and success here (several gateway nodes share them). */
  onEvent: ((event: ThrottleEvent, username: string, ip: string, at: number) => void) | undefined;

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    /** 0 turns the per-address limit off (SIP phones of a whole office share one NAT address). */
    private readonly perAddressFactor = 5,
  ) {}

  /** Seconds until sign-in may be tried again, or 0 when it may be tried now. */
  retryAfter(username: string, ip: string, now = Date.now()): number {
    const perUser = this.#recent(`u:${username}|${ip}`, now);
    const perIp = this.#recent(`i:${ip}`, now);
    const perIpLimit = this.perAddressFactor > 0 ? this.maxFailures * this.perAddressFactor : Infinity;
    const blockedBy = perUser.length >= this.maxFailures ? perUser : perIp.length >= perIpLimit ? perIp : undefined;
    if (!blockedBy) return 0;
    return Math.max(1, Math.ceil((blockedBy[0] + this.windowMs - now) / 1000));
  }

  fail(username: string, ip: string, now = Date.now()): void {
    this.apply('fail', username, ip, now);
    this.onEvent?.('fail', username, ip, now);
  }

  succeed(username: string, ip: string): void {
    this.apply('succeed', username, ip, Date.now());
    this.onEvent?.('succeed', username, ip, Date.now());
  }

  /** A failure or success seen here or on another node. */
  apply(event: ThrottleEvent, username: string, ip: string, now: number): void {
    if (event === 'succeed') {
      this.#failures.delete(`u:${username}|${ip}`);
      return;
    }
    for (const key of [`u:${username}|${ip}`, `i:${ip}`]) {
      const list = this.#recent(key, now);
      list.push(now);
      this.#failures.set(key, list);
    }
    if (this.#failures.size > 100_000) this.#sweep(now);
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
  }

  #sweep(now: number): void {
    for (const [k, list] of this.#failures) if (!list.some((t) => now - t < this.windowMs)) this.#failures.delete(k);
  }
}
