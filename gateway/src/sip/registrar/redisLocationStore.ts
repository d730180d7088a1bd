/**
 * LocationStore in Redis, shared by every gateway node (REDIS_URL set).
 *
 * One hash per AOR (<prefix>:gw:loc:<aor>), one field per binding (its bindingKey) holding the
 * binding as JSON with the node that holds its flow; the hash expires with its last binding, so
 * a dead node's bindings vanish by themselves — and before that, readers skip bindings of nodes
 * the node directory no longer lists. Bindings are written and removed field by field in one
 * script, so two devices registering at once on different nodes keep both.
 *
 * Only the node that holds a flow sees it close; it remembers which fields it wrote for each of
 * its flows and removes exactly those (unless a newer registration replaced them meanwhile).
 */
import type { Redis } from 'ioredis';
import { bindingKey, sortBindings, type Binding, type LocationStore } from './locationStore.js';

/** KEYS[1]: the AOR's hash. ARGV: expireAtMs, removeCount, removed fields…, then field/value pairs. */
const UPDATE = `
local removes = tonumber(ARGV[2])
for i = 3, 2 + removes do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 3 + removes, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local at = redis.call('PEXPIRETIME', KEYS[1])
  if at < tonumber(ARGV[1]) then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
end
return 0`;

/** KEYS[1]: the AOR's hash. ARGV: field/value pairs; each field is removed only if it still holds that value. */
const REMOVE_IF_SAME = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return n`;

type ScriptRedis = Redis & {
  parleyLocUpdate(key: string, ...args: Array<string | number>): Promise<number>;
  parleyLocRemoveIfSame(key: string, ...args: string[]): Promise<number>;
};

export interface RedisLocationStoreOptions {
  redis: Redis;
  keyPrefix: string;
  nodeId: string;
  /** Whether a node is alive (node directory): bindings of dead nodes cannot be reached. */
  isNodeAlive(nodeId: string): boolean;
  sweepIntervalMs?: number;
}

export class RedisLocationStore implements LocationStore {
  readonly #redis: ScriptRedis;
  readonly #o: RedisLocationStoreOptions;
  /** flowId → aor → field → the JSON this node wrote, for the bindings on this node's flows. */
  readonly #byFlow = new Map<string, Map<string, Map<string, { json: string; expiresAt: number }>>>();
  /** `aor\nfield` → the flow of ours it is indexed under. */
  readonly #flowOf = new Map<string, string>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: RedisLocationStoreOptions) {
    this.#o = options;
    const redis = options.redis as ScriptRedis;
    if (typeof (options.redis as { parleyLocUpdate?: unknown }).parleyLocUpdate !== 'function') {
      redis.defineCommand('parleyLocUpdate', { numberOfKeys: 1, lua: UPDATE });
      redis.defineCommand('parleyLocRemoveIfSame', { numberOfKeys: 1, lua: REMOVE_IF_SAME });
    }
    this.#redis = redis;
    this.#sweeper = setInterval(() => this.#sweepIndex(), options.sweepIntervalMs ?? 30_000);
    this.#sweeper.unref();
  }

  async list(aor: string): Promise<Binding[]> {
    const fields = await this.#redis.hgetall(this.#key(aor));
    const now = Date.now();
    const live: Binding[] = [];
    const stale: string[] = [];
    for (const [field, json] of Object.entries(fields)) {
      const b = JSON.parse(json) as Binding;
      if (b.expiresAt <= now) stale.push(field);
      else if (!b.node || this.#o.isNodeAlive(b.node)) live.push(b);
    }
    if (stale.length) void this.#redis.hdel(this.#key(aor), ...stale).catch(() => undefined);
    return sortBindings(live);
  }

  async update(aor: string, put: Binding[], remove: string[]): Promise<void> {
    const args: Array<string | number> = [0, remove.length, ...remove];
    let expireAt = 0;
    const written: Array<[Binding, string, string]> = [];
    for (const b of put) {
      const field = bindingKey(b);
      const json = JSON.stringify(b);
      args.push(field, json);
      written.push([b, field, json]);
      expireAt = Math.max(expireAt, b.expiresAt);
    }
    args[0] = expireAt;
    await this.#redis.parleyLocUpdate(this.#key(aor), ...args);
    for (const field of remove) this.#forget(aor, field);
    for (const [b, field, json] of written) {
      this.#forget(aor, field);
      if (b.node !== this.#o.nodeId) continue;
      let aors = this.#byFlow.get(b.flowId);
      if (!aors) this.#byFlow.set(b.flowId, (aors = new Map()));
      let fields = aors.get(aor);
      if (!fields) aors.set(aor, (fields = new Map()));
      fields.set(field, { json, expiresAt: b.expiresAt });
      this.#flowOf.set(`${aor}\n${field}`, b.flowId);
    }
  }

  async removeAll(aor: string): Promise<void> {
    const fields = Object.keys(await this.#redis.hgetall(this.#key(aor)));
    await this.#redis.del(this.#key(aor));
    for (const field of fields) this.#forget(aor, field);
  }

  async heldAors(): Promise<string[]> {
    const aors = new Set<string>();
    for (const byAor of this.#byFlow.values()) for (const aor of byAor.keys()) aors.add(aor);
    return [...aors];
  }

  async removeFlow(flowId: string): Promise<string[]> {
    const aors = this.#byFlow.get(flowId);
    if (!aors) return [];
    this.#byFlow.delete(flowId);
    for (const [aor, fields] of aors) for (const field of fields.keys()) this.#flowOf.delete(`${aor}\n${field}`);
    const touched: string[] = [];
    await Promise.all(
      [...aors].map(async ([aor, fields]) => {
        const args = [...fields].flatMap(([field, { json }]) => [field, json]);
        if (await this.#redis.parleyLocRemoveIfSame(this.#key(aor), ...args)) touched.push(aor);
      }),
    );
    return touched;
  }

  async size(): Promise<number> {
    const now = Date.now();
    let n = 0;
    for (const aors of this.#byFlow.values()) {
      for (const fields of aors.values()) for (const f of fields.values()) if (f.expiresAt > now) n++;
    }
    return n;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  #key(aor: string): string {
    return `${this.#o.keyPrefix}:gw:loc:${aor}`;
  }

  /** A field is now another flow's (or gone): no flow of ours may remove it any more. */
  #forget(aor: string, field: string): void {
    const id = `${aor}\n${field}`;
    const flowId = this.#flowOf.get(id);
    if (flowId === undefined) return;
    this.#flowOf.delete(id);
    const aors = this.#byFlow.get(flowId);
    const fields = aors?.get(aor);
    if (!aors || !fields) return;
    fields.delete(field);
    if (!fields.size) aors.delete(aor);
    if (!aors.size) this.#byFlow.delete(flowId);
  }

  #sweepIndex(): void {
    const now = Date.now();
    for (const [flowId, aors] of this.#byFlow) {
      for (const [aor, fields] of aors) {
        for (const [field, f] of fields) {
          if (f.expiresAt > now) continue;
          fields.delete(field);
          this.#flowOf.delete(`${aor}\n${field}`);
        }
        if (!fields.size) aors.delete(aor);
      }
      if (!aors.size) this.#byFlow.delete(flowId);
    }
  }
}
