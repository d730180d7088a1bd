/**
 * Which gateway node is home to a thing that must live in one place (a group chat room: its
 * occupants, history and configuration are one node's state). The first node that needs a home
 * claims it in Redis; when the home node dies, the next node that needs it claims it over —
 * with a compare-and-set, so two nodes never both think they won.
 *
 * Keys: <prefix>:gw:home:<kind>:<key> = node id, expiring after a week unless the home node
 * keeps using it (it refreshes the expiry at most once an hour).
 */
import type { Redis } from 'ioredis';
import type { NodeDirectory } from './nodeDirectory.js';

/** KEYS[1]: the home key. ARGV: claimant, expected current holder ('' = none), ttl ms. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if (cur or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return ARGV[1]
end
return cur`;

const TTL_MS = 7 * 24 * 3600_000;
const REFRESH_MS = 3600_000;

type ClaimRedis = Redis & { parleyHomeClaim(key: string, me: string, expected: string, ttl: number): Promise<string> };

export interface Home {
  node: string;
  /** This node took the home over from a dead one (what it held in memory may be stale). */
  takenOver: boolean;
}

export class HomeDirectory {
  readonly #redis: ClaimRedis;
  readonly #cache = new Map<string, { node: string; refreshedAt: number }>();

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
    private readonly kind: string,
    private readonly nodes: NodeDirectory,
  ) {
    if (typeof (redis as { parleyHomeClaim?: unknown }).parleyHomeClaim !== 'function') {
      redis.defineCommand('parleyHomeClaim', { numberOfKeys: 1, lua: CLAIM });
    }
    this.#redis = redis as ClaimRedis;
  }

  async homeOf(key: string): Promise<Home> {
    const me = this.nodes.id;
    const cached = this.#cache.get(key);
    if (cached && this.nodes.isAlive(cached.node)) {
      if (cached.node === me && Date.now() - cached.refreshedAt > REFRESH_MS) {
        cached.refreshedAt = Date.now();
        void this.#redis.pexpire(this.#key(key), TTL_MS).catch(() => undefined);
      }
      return { node: cached.node, takenOver: false };
    }
    let current = (await this.#redis.get(this.#key(key))) ?? '';
    let takenOver = false;
    if (!current || !this.nodes.isAlive(current)) {
      const before = current;
      current = await this.#redis.parleyHomeClaim(this.#key(key), me, current, TTL_MS);
      takenOver = current === me && before !== '' && before !== me;
    }
    this.#cache.set(key, { node: current, refreshedAt: Date.now() });
    return { node: current, takenOver };
  }

  /** A node died: what it was home to is claimed again on next use. */
  forgetNode(node: string): string[] {
    const keys: string[] = [];
    for (const [key, v] of this.#cache) {
      if (v.node !== node) continue;
      this.#cache.delete(key);
      keys.push(key);
    }
    return keys;
  }

  /** The thing is gone (an empty temporary room): no home any more. */
  release(key: string): void {
    const cached = this.#cache.get(key);
    this.#cache.delete(key);
    if (cached?.node === this.nodes.id) void this.#redis.del(this.#key(key)).catch(() => undefined);
  }

  #key(key: string): string {
    return `${this.keyPrefix}:gw:home:${this.kind}:${key}`;
  }
}
